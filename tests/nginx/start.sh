#!/bin/bash
# Starts Debian's nginx as a flow remote cache whose files all live in DIR, as the current user:
# GET/HEAD/PUT (WebDAV) on 127.0.0.1 at a free port, plus the locations the HTTP tests need
# (see nginx.conf.in). Prints `url=`, `other_url=`, `tls_url=`, `ca=`, `token=`, `user=` and
# `password=` lines.
# usage: tests/nginx/start.sh DIR   — stop with stop.sh DIR.
# Needs the Debian packages nginx and openssl; installs nothing. FLOW_TEST_NGINX_TOKEN sets the bearer token.
set -eu
D=$(mkdir -p "$1" && cd "$1" && pwd)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "start.sh: nginx not found (apt-get install nginx)" >&2; exit 3; }
TOKEN=${FLOW_TEST_NGINX_TOKEN:-flow-test-token}
USER_NAME=flow
PASSWORD=flow-test-password
BASIC=$(printf '%s:%s' "$USER_NAME" "$PASSWORD" | base64 -w0)
# nginx as root hands its workers to `nobody`, who cannot write DIR: keep them as root then.
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root $(id -gn);"
mkdir -p "$D/root" "$D/logs" "$D/temp" "$D/tls"
command -v openssl > /dev/null || { echo "start.sh: openssl not found (apt-get install openssl)" >&2; exit 3; }
# A self-signed certificate for 127.0.0.1, which the clients under test are told to trust.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$D/tls/key.pem" -out "$D/tls/cert.pem" 2> "$D/tls/openssl.err" \
  || { cat "$D/tls/openssl.err" >&2; exit 1; }
# A port is free when nginx binds it: try random pairs until one binds (nginx exits 1 otherwise).
for _ in $(seq 50); do
  PORT=$(( 20000 + RANDOM % 20000 ))
  OTHER_PORT=$(( PORT + 1 ))
  TLS_PORT=$(( PORT + 2 ))
  sed -e "s|@DIR@|$D|g" -e "s|@PORT@|$PORT|g" -e "s|@OTHER_PORT@|$OTHER_PORT|g" -e "s|@TLS_PORT@|$TLS_PORT|g" \
      -e "s|@TOKEN@|$TOKEN|g" -e "s|@BASIC@|$BASIC|g" -e "s|@USER@|$USER_LINE|g" \
      "$(dirname "$0")/nginx.conf.in" > "$D/nginx.conf"
  # -e: the error log before the configuration is read (the default is under /var/log).
  if "$NGINX" -p "$D" -c "$D/nginx.conf" -e "$D/logs/error.log" 2> "$D/start.err"; then
    echo "url=http://127.0.0.1:$PORT"
    echo "other_url=http://127.0.0.1:$OTHER_PORT"
    echo "tls_url=https://127.0.0.1:$TLS_PORT"
    echo "ca=$D/tls/cert.pem"
    echo "token=$TOKEN"
    echo "user=$USER_NAME"
    echo "password=$PASSWORD"
    exit 0
  fi
  grep -q "Address already in use" "$D/start.err" || { cat "$D/start.err" >&2; exit 1; }
done
echo "start.sh: no free port found" >&2
exit 1
