#!/bin/sh
# Renders a flow report with headless Chromium and checks it.
#
#   tests/browser/render.sh REPORT.html OUT.png [SECTION...]
#
# Fails (exit 1) when the page reports a JavaScript error (its inline script sets
# data-report="ok" on <body> only when none happened, and Chromium's console log is searched
# for uncaught errors), when a SECTION (default: graph timeline steps) is missing from the
# rendered DOM, when the page asks for anything over the network, or when no PNG comes out.
# Needs the Debian package chromium (make report-check installs it).
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 REPORT.html OUT.png [SECTION...]" >&2
    exit 64
fi
report=$1
png=$2
shift 2
sections=${*:-graph timeline steps}

browser=""
for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
if [ -z "$browser" ]; then
    echo "$0: chromium not found: apt-get install -y chromium" >&2
    exit 1
fi
[ -f "$report" ] || { echo "$0: $report: no such file" >&2; exit 1; }
case $report in /*) url="file://$report" ;; *) url="file://$(pwd)/$report" ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Chromium wants a writable home and profile; keep them out of the user's.
export HOME="$work"
flags="--headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir=$work/profile --no-first-run --disable-extensions --disable-background-networking"

# 1. The DOM after scripts ran, and the console log.
# shellcheck disable=SC2086
timeout 60 "$browser" $flags --window-size=1200,900 --enable-logging=stderr --v=0 --virtual-time-budget=2000 --dump-dom "$url" \
    >"$work/dom.html" 2>"$work/console.log" || { cat "$work/console.log" >&2; echo "$0: chromium failed on $report" >&2; exit 1; }

status=0
if ! grep -q 'data-report="ok"' "$work/dom.html"; then
    marker=$(grep -o 'data-report="[^"]*"' "$work/dom.html" || echo "no data-report marker: the inline script did not run")
    echo "$0: $report: page errors: $marker" >&2
    status=1
fi
if grep -E 'Uncaught|SyntaxError|ReferenceError|TypeError' "$work/console.log" >&2; then
    echo "$0: $report: JavaScript errors in the console (above)" >&2
    status=1
fi
if grep -E 'net::ERR|Failed to load resource' "$work/console.log" >&2; then
    echo "$0: $report: the page tried to load something (it must be self-contained)" >&2
    status=1
fi
for s in $sections; do
    if ! grep -q "<section id=\"$s\">" "$work/dom.html"; then
        echo "$0: $report: section '$s' is missing" >&2
        status=1
    fi
done

# 2. The screenshot, as tall as the page (its script records its height), capped at 8000 px.
height=$(grep -o 'data-height="[0-9]*"' "$work/dom.html" | grep -o '[0-9][0-9]*' || echo 1200)
height=$((height + 20))
[ "$height" -gt 8000 ] && height=8000
rm -f "$png"
# shellcheck disable=SC2086
timeout 60 "$browser" $flags --window-size=1200,$height --screenshot="$png" "$url" >/dev/null 2>"$work/shot.log" || true
if [ ! -s "$png" ]; then
    cat "$work/shot.log" >&2
    echo "$0: no screenshot written to $png" >&2
    status=1
fi
[ $status -eq 0 ] && echo "ok: $report renders (sections: $sections) -> $png"
exit $status
