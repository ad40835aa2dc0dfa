#!/bin/sh
# The official postgres entrypoint's behaviour, in short: `postgres ARGS` (or just `-ARGS`) makes
# the cluster on the first start (superuser POSTGRES_USER with POSTGRES_PASSWORD, database
# POSTGRES_DB with PostGIS, scripts in /docker-entrypoint-initdb.d), then runs the server as the
# postgres user. Anything else is run as given.
set -eu

if [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
    exec "$@"
fi
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set (the superuser's password)}"
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA" >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    # a first start on the socket only, so nobody connects before the database is ready
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    psql() { command psql -v ON_ERROR_STOP=1 --no-psqlrc --username="$user" "$@"; }
    if [ "$db" != postgres ]; then
        psql --dbname=postgres -c "CREATE DATABASE \"$db\"" >/dev/null
    fi
    psql --dbname="$db" -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh) . "$f" ;;
            *.sql) psql --dbname="$db" -f "$f" ;;
            *) ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "database cluster made: user $user, database $db (PostGIS)"
fi
exec "$@"
