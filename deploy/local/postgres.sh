#!/bin/sh
# PostgreSQL started as the official postgres image starts it, for a stack whose images
# grow from Debian's packages (deploy/local/): a new, empty data folder is first made
# into a cluster whose superuser is POSTGRES_USER with POSTGRES_PASSWORD, holding
# POSTGRES_DB; other containers log in with the password, the server's own checks
# through the socket. Arguments go on to the server (-c jit=off).
set -eu

bin=/usr/lib/postgresql/15/bin
data=${PGDATA:-/var/lib/postgresql/data}
user=${POSTGRES_USER:-postgres}
database=${POSTGRES_DB:-$user}

if [ ! -s "$data/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
    password_file=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
    "$bin/initdb" --pgdata="$data" --username="$user" --pwfile="$password_file" \
        --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$data/pg_hba.conf"
    if [ "$database" != postgres ]; then
        echo "CREATE DATABASE \"$database\" OWNER \"$user\";" \
            | "$bin/postgres" --single -D "$data" postgres > /dev/null
    fi
fi

exec "$bin/postgres" -D "$data" -c listen_addresses='*' "$@"
