#!/usr/bin/env bash
# How the executed notebooks look in the viewers Debian has (issue 14): not a
# test (it needs Debian's jupyter-nbconvert, jupyter-notebook and chromium), a
# check to run by hand after changing lib/viz. It prints what it finds:
#   1. nbconvert --to html of each executed copy: empty <svg> elements (nbconvert
#      6.5 empties inline SVG) and the images each page shows;
#   2. an executed 01-dataset opened in the classic Notebook, untrusted (as the
#      runner writes it) and trusted (signed, as jupyter trust does), in headless Chromium: the
#      rows of its image grids and the images in each row, from the page's DOM.
# Usage: bench/viewers.sh [EXECUTED_DIR]   (default runs/notebooks, from `npm run course`)
set -euo pipefail
cd "$(dirname "$0")/.."
executed="${1:-runs/notebooks}"
work="$(mktemp -d)"; [ -z "${KEEP:-}" ] || echo "work folder: $work"
trap 'kill "${server:-}" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

echo "== nbconvert $(jupyter nbconvert --version) --to html"
for nb in "$executed"/*.ipynb; do
  jupyter nbconvert --to html --output-dir "$work/html" "$nb" >"$work/nbconvert.log" 2>&1 || { echo "nbconvert --to html failed on $nb:"; cat "$work/nbconvert.log"; exit 1; }
  page="$work/html/$(basename "${nb%.ipynb}").html"
  python3 - "$page" <<'PY'
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
empty = len(re.findall(r"<svg[^>]*>\s*</svg>", html))
images = html.count("<img")
sized = len(re.findall(r"<img[^>]*\swidth=", html))
print(f"{sys.argv[1].split('/')[-1]:28} images {images:3} (with a width: {sized:3})   empty <svg> {empty}")
PY
done

echo "== classic Notebook $(jupyter notebook --version), 01-dataset, headless Chromium"
mkdir -p "$work/nb/untrusted" "$work/nb/trusted"
cp "$executed/01-dataset.ipynb" "$work/nb/untrusted/"
cp "$executed/01-dataset.ipynb" "$work/nb/trusted/"
ln -s "$PWD/lib" "$work/nb/untrusted/lib"; ln -s "$PWD/lib" "$work/nb/trusted/lib"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# A notary of its own: trust is a signature of the contents, so once any copy is signed every identical copy is trusted.
notary="$work/notary"
mkdir -p "$notary"
jupyter notebook --no-browser --allow-root --port "$port" --NotebookApp.token= --NotebookApp.password= --NotebookNotary.data_dir="$notary" --notebook-dir "$work/nb" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 60); do curl -s "http://127.0.0.1:$port/api" >/dev/null && break; sleep 0.5; done
curl -s "http://127.0.0.1:$port/api" >/dev/null || { echo "the notebook server did not start:"; cat "$work/server.log"; exit 1; }
for which in untrusted trusted; do
  if [ "$which" = trusted ]; then
    # jupyter trust, without the nbformat console script Debian leaves out (Debian's python3 has nbformat, whatever python3 is first on PATH).
    /usr/bin/python3 -c 'import sys, nbformat; from nbformat.sign import NotebookNotary; nb = nbformat.read(sys.argv[1], 4); NotebookNotary(data_dir=sys.argv[2]).sign(nb); nbformat.write(nb, sys.argv[1])' "$work/nb/trusted/01-dataset.ipynb" "$notary"
  fi
  chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=15000 --dump-dom "http://127.0.0.1:$port/notebooks/$which/01-dataset.ipynb" 2>/dev/null >"$work/$which.html"
  python3 - "$work/$which.html" "$which" <<'PY'
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
trusted = re.search(r'id="notification_trusted"[^>]*>(?:<[^>]*>)*\s*Trusted', dom) is not None
grids = re.findall(r'<table class="alexnet-grid">(.*?)</table>', dom, re.S)
rows = [[row.count("<img") for row in re.findall(r"<tr>(.*?)</tr>", g, re.S)] for g in grids]
print(f"{sys.argv[2]:9} (page says {'trusted' if trusted else 'Not Trusted'}): {dom.count('<img')} images, {len(grids)} image grids, images per row {rows}")
PY
done
