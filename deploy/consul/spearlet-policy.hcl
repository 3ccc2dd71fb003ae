# ACL policy for spearlets: register and heartbeat their own service, read everything else they need.
# Create it with:  consul acl policy create -name spearlet -rules @spearlet-policy.hcl
# and a token:     consul acl token create -description "spearlets" -policy-name spearlet
service "spearlet" {
  policy = "write"
}
service "spear-task" {
  policy = "write"
}
service_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
key_prefix "spear-mesh/" {
  policy = "read"
}
agent_prefix "" {
  policy = "read"
}
