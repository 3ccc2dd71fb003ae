# ACL policy for agents (MeshClient, spear-mesh call/status): discovery only.
service_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
