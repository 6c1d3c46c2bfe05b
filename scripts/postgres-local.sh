#!/usr/bin/env bash
# Start a PostgreSQL server on loopback for the scale-out tests and `make stress`, and
# create their role and database (idempotent). Debian/Ubuntu: installs the `postgresql`
# package when missing (needs root or sudo). Prints the URL the tests read, without the
# password (that comes from ORCHESTRATOR_TEST_PG_PASSWORD, default below).
set -euo pipefail
role=${ORCHESTRATOR_TEST_PG_USER:-orchestrator}
password=${ORCHESTRATOR_TEST_PG_PASSWORD:-orchestrator-test-pw}
db=${ORCHESTRATOR_TEST_PG_DB:-orchestrator_test}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v pg_ctlcluster >/dev/null; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  $sudo pg_createcluster "$version" main >/dev/null
fi
# Loopback only; the cluster's own pg_hba.conf already allows md5/scram on 127.0.0.1.
$sudo pg_ctlcluster "$version" main start 2>/dev/null || true
for _ in $(seq 30); do
  pg_isready -q -h 127.0.0.1 && break
  sleep 1
done
pg_isready -h 127.0.0.1 >/dev/null
if [ -z "$sudo" ]; then as_postgres=(runuser -u postgres --); else as_postgres=(sudo -u postgres); fi
psql_admin() { "${as_postgres[@]}" psql -q -v ON_ERROR_STOP=1 "$@"; }
psql_admin -c "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN
    CREATE ROLE $role LOGIN CREATEDB PASSWORD '$password';
  ELSE ALTER ROLE $role LOGIN CREATEDB PASSWORD '$password'; END IF; END \$\$;"
if ! psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
  psql_admin -c "CREATE DATABASE $db OWNER $role"
fi
echo "postgresql+psycopg2://$role:***@127.0.0.1:5432/$db (PostgreSQL $version)"
