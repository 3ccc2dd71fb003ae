// The package version, reported in WELCOME, Consul Meta and `--version`.
export const VERSION = '0.1.0';
export const PROTOCOL_VERSION = 1;
