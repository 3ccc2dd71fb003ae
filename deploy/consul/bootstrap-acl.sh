#!/usr/bin/env bash
# Run once against a freshly bootstrapped cluster (CONSUL_HTTP_TOKEN = the bootstrap token):
# creates the spearlet and agent policies and prints one token for each.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
consul acl policy create -name spearlet -description "spear-mesh spearlets" -rules "@$here/spearlet-policy.hcl"
consul acl policy create -name spear-agent -description "spear-mesh agents" -rules "@$here/agent-policy.hcl"
echo "spearlet token:"
consul acl token create -description "spear-mesh spearlets" -policy-name spearlet -format json | grep SecretID
echo "agent token:"
consul acl token create -description "spear-mesh agents" -policy-name spear-agent -format json | grep SecretID
