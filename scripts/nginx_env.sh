#!/usr/bin/env bash
# Render the edge templates in deploy/nginx/ into a directory, from environment variables.
#
#   CADENZA_UPSTREAM=127.0.0.1:8000 CADENZA_SIGNING_KEYS='{"k1":"..."}' CADENZA_ORIGIN_SECRET=... \
#   CACHE_DIR=/var/cache/nginx/cadenza scripts/nginx_env.sh /etc/nginx/cadenza
#
# writes OUT/cadenza.conf (http-level: include it from conf.d/), OUT/cadenza.js, and OUT/nginx.conf (a
# whole config to run the edge on its own: nginx -p OUT/ -c OUT/nginx.conf). Only the listed variables
# are substituted, so nginx's own $variables survive. Check the result with `nginx -t -c ...`.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:?usage: scripts/nginx_env.sh OUTPUT_DIR}
: "${CADENZA_UPSTREAM:?host:port of the app}"
: "${CADENZA_SIGNING_KEYS:?the app\'s CADENZA_SIGNING__KEYS JSON}"
: "${CADENZA_ORIGIN_SECRET:?the secret the app requires on /origin/}"
: "${CACHE_DIR:?shield cache directory}"
export LISTEN=${LISTEN:-80}
export CADENZA_BIND_IP=${CADENZA_BIND_IP:-1}
export CACHE_MAX_SIZE=${CACHE_MAX_SIZE:-50g}
export CADENZA_NJS=${CADENZA_NJS:-$(realpath -m "$out")/cadenza.js}
export NGINX_USER=${NGINX_USER:-www-data}
export WORKER_PROCESSES=${WORKER_PROCESSES:-auto}
export NJS_MODULE=${NJS_MODULE:-/usr/lib/nginx/modules/ngx_http_js_module.so}
# The media store's directory when nginx can read it; otherwise an empty one (all bytes via the shield).
export CADENZA_MEDIA_ROOT=${CADENZA_MEDIA_ROOT:-$(realpath -m "$out")/no-local-media}
export CADENZA_UPSTREAM CADENZA_SIGNING_KEYS CADENZA_ORIGIN_SECRET CACHE_DIR

# They end up inside quoted nginx strings: a quote would end the string, $ would start a variable.
case "$CADENZA_SIGNING_KEYS$CADENZA_ORIGIN_SECRET" in
  *\'* | *\$* | *\\*) echo "nginx_env: secrets must not contain ' \$ or \\" >&2; exit 2 ;;
esac
case "$CADENZA_ORIGIN_SECRET" in
  *\"*) echo "nginx_env: the origin secret must not contain \"" >&2; exit 2 ;;
esac

vars='${LISTEN} ${CADENZA_UPSTREAM} ${CADENZA_SIGNING_KEYS} ${CADENZA_BIND_IP} ${CADENZA_ORIGIN_SECRET}
${CADENZA_NJS} ${CACHE_DIR} ${CACHE_MAX_SIZE} ${NGINX_USER} ${WORKER_PROCESSES} ${NJS_MODULE}
${CADENZA_MEDIA_ROOT}'
mkdir -p "$out" "$out/no-local-media"
umask 027  # the signing keys and the origin secret are in there
for f in cadenza.conf nginx.conf; do
  envsubst "$vars" < "deploy/nginx/$f" > "$out/$f"
done
cp deploy/nginx/cadenza.js "$out/cadenza.js"
echo "nginx_env: wrote $out/{cadenza.conf,nginx.conf,cadenza.js}"
