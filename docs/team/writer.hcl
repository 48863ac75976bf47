# Latch team policy: writer. A member with it adds, edits, connects,
# disconnects and renews the team's connections, and so reads every secret
# of them: client secrets and refresh tokens included.
#
# Written for the KV version 2 mount "secret" and the team path
# "teams/sales" (latch team join sales --mount secret --path teams/sales);
# replace both to match yours. Load it with:
#   bao policy write latch-sales-writer docs/team/writer.hcl

# Every document of every connection: settings, client, refresh (with the
# claim of the member renewing it), access.
path "secret/data/teams/sales/connections/*" {
  capabilities = ["create", "read", "update", "delete"]
}

# Listing the connections, versions for check-and-set, removing documents.
path "secret/metadata/teams/sales/connections" {
  capabilities = ["list"]
}
path "secret/metadata/teams/sales/connections/*" {
  capabilities = ["read", "list", "delete"]
}

# The team's index: each connection's settings version, so a sync reads
# only what changed.
path "secret/data/teams/sales/index" {
  capabilities = ["create", "read", "update"]
}
path "secret/metadata/teams/sales/index" {
  capabilities = ["read"]
}
