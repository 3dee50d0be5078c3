#!/usr/bin/env bash
# Make sure a MariaDB server answers on 127.0.0.1:3306 for root without a password:
# install it if missing (Debian package), start it if down. Idempotent.
set -euo pipefail

ping_tcp() { mariadb-admin --protocol=tcp -h127.0.0.1 -P3306 -uroot ping >/dev/null 2>&1 || mysqladmin --protocol=tcp -h127.0.0.1 -P3306 -uroot ping >/dev/null 2>&1; }

if ping_tcp; then exit 0; fi

if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
  echo "ensure_mariadb: installing mariadb-server" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq mariadb-server >/dev/null
fi

if ! mariadb-admin ping >/dev/null 2>&1; then
  echo "ensure_mariadb: starting mariadbd" >&2
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
for _ in $(seq 1 60); do
  mariadb-admin ping >/dev/null 2>&1 && break
  sleep 0.5
done

# A fresh Debian install lets root in through the socket only; allow it on TCP without a password too.
if ! ping_tcp; then
  mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('');" 2>/dev/null || true
  mariadb -uroot -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" 2>/dev/null || true
fi
if ! ping_tcp; then
  echo "ensure_mariadb: MariaDB does not answer on 127.0.0.1:3306 for root" >&2
  exit 1
fi
