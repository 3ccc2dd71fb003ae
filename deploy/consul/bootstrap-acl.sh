#!/usr/bin/env bash
# Creates the ACL policies and tokens of a spear-mesh Consul cluster and prints each token with its purpose and
# where it goes. Run once, after the servers have elected a leader, with the consul CLI pointed at a server:
#   export CONSUL_HTTP_ADDR=https://consul-server-1:8501 CONSUL_CACERT=consul-tls/consul-agent-ca.pem \
#          CONSUL_CLIENT_CERT=consul-tls/api-client.pem CONSUL_CLIENT_KEY=consul-tls/api-client-key.pem
#   CONSUL_HTTP_TOKEN=<management token> deploy/consul/bootstrap-acl.sh NODE...
# NODE... are the node names of every Consul agent (servers and client agents, e.g. consul-server-1 ... host-a);
# each gets its own agent token through a node identity. Without CONSUL_HTTP_TOKEN the script runs
# `consul acl bootstrap` first and prints the management token it made.
# The printed secrets are credentials: run this in a private terminal and move each one to its place.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dc="${CONSUL_DATACENTER:-dc1}"
if [ "$#" -eq 0 ]; then
  echo "usage: $0 NODE... (the node_name of every Consul agent)" >&2
  exit 2
fi

secret_of() { sed -n 's/^ *"SecretID": *"\([^"]*\)".*/\1/p'; }

if [ -z "${CONSUL_HTTP_TOKEN:-}" ]; then
  CONSUL_HTTP_TOKEN="$(consul acl bootstrap -format=json | secret_of)"
  export CONSUL_HTTP_TOKEN
  echo "management token (full access; keep it in a vault, use it only for ACL changes):"
  echo "  $CONSUL_HTTP_TOKEN"
fi

consul acl policy create -name spearlet -description "spear-mesh spearlets: register spearlet and spear-task" \
  -rules "@$here/spearlet-policy.json" >/dev/null
consul acl policy create -name spear-agent -description "spear-mesh agents: discovery only" \
  -rules "@$here/agent-policy.json" >/dev/null

for node in "$@"; do
  token="$(consul acl token create -description "Consul agent token for $node" \
    -node-identity "$node:$dc" -format=json | secret_of)"
  echo "agent token for node $node (acl.tokens.agent in that agent's config, or: consul acl set-agent-token agent TOKEN on it):"
  echo "  $token"
done

token="$(consul acl token create -description "spear-mesh spearlets" -policy-name spearlet -format=json | secret_of)"
echo "spearlet token (CONSUL_HTTP_TOKEN of every spearlet: systemd spearlet.env, Kubernetes Secret consul-tokens key spearlet):"
echo "  $token"

token="$(consul acl token create -description "spear-mesh agents (read-only)" -policy-name spear-agent -format=json | secret_of)"
echo "read-only agent token (CONSUL_HTTP_TOKEN of MeshClient agents, spear-mesh call/status/drill; never an agent's acl.tokens.agent):"
echo "  $token"
