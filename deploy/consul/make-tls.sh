#!/usr/bin/env bash
# Makes what the Consul servers and their clients need for TLS and gossip encryption, with Consul's own commands:
#   the CA (consul tls ca create), one certificate per server (consul tls cert create -server), one certificate for
#   HTTPS API clients such as spearlets, agents and the consul CLI (consul tls cert create -cli), and the gossip key
#   (consul keygen). Client agents get their certificates from the servers (auto_encrypt) and need only the CA.
# Usage: deploy/consul/make-tls.sh [OUT_DIR]   (env CONSUL_DATACENTER, default dc1; CONSUL_DOMAIN, default consul;
#        SERVER_NAMES, default "consul-server-1 consul-server-2 consul-server-3")
# Keep consul-agent-ca-key.pem offline: whoever holds it can mint a server certificate.
set -euo pipefail
dc="${CONSUL_DATACENTER:-dc1}"
domain="${CONSUL_DOMAIN:-consul}"
servers="${SERVER_NAMES:-consul-server-1 consul-server-2 consul-server-3}"
out="${1:-./consul-tls}"
mkdir -p "$out"
cd "$out"
umask 077

if [ ! -f "$domain-agent-ca.pem" ]; then
  consul tls ca create -domain "$domain" -days 1825
fi

# Each server certificate carries server.<dc>.<domain> (what verify_server_hostname checks) plus the server's own
# name for the HTTPS API. `consul tls cert create` numbers its files <dc>-server-<domain>-N; rename to the node.
for name in $servers; do
  consul tls cert create -server -dc "$dc" -domain "$domain" -days 365 \
    -additional-dnsname "$name" -additional-dnsname "$name.$dc.$domain"
  mv "$dc-server-$domain-0.pem" "$name.pem"
  mv "$dc-server-$domain-0-key.pem" "$name-key.pem"
done

# For HTTPS API clients (servers set verify_incoming): spear-mesh reads it from CONSUL_CLIENT_CERT/CONSUL_CLIENT_KEY.
consul tls cert create -cli -dc "$dc" -domain "$domain" -days 365
mv "$dc-cli-$domain-0.pem" "api-client.pem"
mv "$dc-cli-$domain-0-key.pem" "api-client-key.pem"

consul keygen > gossip.key

cat <<INFO
Made in $(pwd):
  $domain-agent-ca.pem        -> every agent (tls.defaults.ca_file) and every HTTPS API client (CONSUL_CACERT)
  $domain-agent-ca-key.pem    -> keep offline; needed only to make more certificates
  <server>.pem, <server>-key.pem -> that server only (tls.defaults.cert_file, key_file)
  api-client.pem, api-client-key.pem -> spearlets, agents and operators that use the servers' HTTPS port
                                (CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME=server.$dc.$domain)
  gossip.key                  -> the "encrypt" value of every agent, servers and clients alike
INFO
