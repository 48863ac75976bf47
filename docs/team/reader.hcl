# Latch team policy: reader. A member with it uses the team's connections
# (latch token, request, the proxy and helpers) with the access token that
# writers keep fresh, but never reads a client secret or a refresh token
# and changes nothing: renewing is left to writers.
#
# Written for the KV version 2 mount "secret" and the team path
# "teams/sales" (latch team join sales --mount secret --path teams/sales);
# replace both to match yours. Load it with:
#   bao policy write latch-sales-reader docs/team/reader.hcl

# Which connections there are, and their non-secret settings.
path "secret/metadata/teams/sales/connections" {
  capabilities = ["list"]
}
path "secret/metadata/teams/sales/connections/*" {
  capabilities = ["list"]
}
path "secret/data/teams/sales/connections/+/settings" {
  capabilities = ["read"]
}

# The current access token with its expiry.
path "secret/data/teams/sales/connections/+/access" {
  capabilities = ["read"]
}

# Never the client secret or the refresh token, whatever else grants them.
path "secret/data/teams/sales/connections/+/client" {
  capabilities = ["deny"]
}
path "secret/data/teams/sales/connections/+/refresh" {
  capabilities = ["deny"]
}

# The team's index: each connection's settings version, so a sync reads
# only what changed.
path "secret/data/teams/sales/index" {
  capabilities = ["read"]
}
