#!/usr/bin/env bash
# Fills deploy/kubernetes/secrets/ with every credential kustomization.yaml turns into a Secret: the JWT signing secret,
# the admin token, the Consul CA and server certificate (with Consul's own `consul tls` commands), the gossip key, and
# the secrets of every Consul ACL token (random UUIDs; the consul-acl-init Job creates the tokens with these secrets).
# Needs the consul CLI, openssl and uuidgen (or /proc/sys/kernel/random/uuid). Refuses to overwrite existing files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/secrets"
if [ -e "$out/token-secret" ]; then
  echo "make-secrets.sh: $out already holds secrets; move them away to make new ones" >&2
  exit 1
fi
mkdir -p "$out"
cd "$out"
umask 077
uuid() { if command -v uuidgen >/dev/null; then uuidgen; else cat /proc/sys/kernel/random/uuid; fi; }

openssl rand -base64 48 | tr -d '\n' > token-secret
openssl rand -hex 32 | tr -d '\n' > admin-token

consul tls ca create -days 1825
consul tls cert create -server -dc dc1 -days 365 \
  -additional-dnsname '*.consul-server.spear.svc.cluster.local' \
  -additional-dnsname 'consul-server.spear.svc.cluster.local'
mv dc1-server-consul-0.pem server.pem
mv dc1-server-consul-0-key.pem server-key.pem
printf '{"encrypt": "%s"}\n' "$(consul keygen)" > gossip.json

management="$(uuid)"
printf '{"acl": {"tokens": {"initial_management": "%s"}}}\n' "$management" > management.json
{
  echo "MANAGEMENT_TOKEN=$management"
  for node in consul-server-0 consul-server-1 consul-server-2 spearlet-0 spearlet-1 spearlet-2; do
    token="$(uuid)"
    printf '{"acl": {"tokens": {"agent": "%s"}}}\n' "$token" > "$node.json"
    echo "AGENT_TOKEN_$(echo "$node" | tr 'a-z-' 'A-Z_')=$token"
  done
  spearlet="$(uuid)"
  printf '%s' "$spearlet" > consul-token
  echo "SPEARLET_TOKEN=$spearlet"
  echo "AGENT_READ_TOKEN=$(uuid)"
} > tokens.env

cat <<INFO
Secrets written to $out (keep them out of version control; consul-agent-ca-key.pem is not used by the cluster:
store it offline). What goes where:
  token-secret                 HS256 secret the spearlets verify agent JWTs with (and token minters sign with)
  admin-token                  admin API token of every spearlet (SPEARLET_ADMIN_TOKEN_FILE)
  consul-agent-ca.pem          Consul CA: servers, client agents, every HTTPS API client (CONSUL_CACERT)
  server.pem, server-key.pem   the servers' certificate (server.dc1.consul)
  gossip.json                  gossip encryption key of every Consul agent
  management.json              initial management token (full ACL access; MANAGEMENT_TOKEN in tokens.env)
  <node>.json                  acl.tokens.agent of that Consul agent (node identity <node>:dc1)
  consul-token                 the spearlets' Consul token (policy spearlet)
  tokens.env                   every token secret, read by the consul-acl-init Job; AGENT_READ_TOKEN is the
                               read-only token for agents that discover through Consul
INFO
