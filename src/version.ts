// The package version, reported in Consul Meta, /v1/info and `--version`.
export const VERSION = '0.1.0';
