#!/usr/bin/env bash
# Render a report in a real headless browser (Debian's Chromium) and check what a reader sees:
# the page loads, every image is decoded, and the screenshot is not blank.
#   bash .ci/report_check.sh results/demo/report.html results/demo/report_screenshot.png
set -euo pipefail
REPORT=${1:-results/demo/report.html}
SHOT=${2:-${REPORT%.html}_screenshot.png}
PYTHON=${PYTHON:-python3}
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "report-check: installing chromium (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "report-check: needs chromium (apt-get install chromium)" >&2
    exit 2
  fi
fi
URL="file://$(realpath "$REPORT")"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,2400 \
  --screenshot="$SHOT" "$URL" >/dev/null 2>&1
"$PYTHON" - "$REPORT" "$SHOT" <<'PY'
import sys
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np

report, shot = Path(sys.argv[1]), Path(sys.argv[2])
srcs = []
class P(HTMLParser):
    def handle_starttag(self, tag, attrs):
        if tag == "img":
            srcs.append(dict(attrs)["src"])
P().feed(report.read_text())
missing = [s for s in srcs if not (report.parent / s).is_file()]
if missing:
    sys.exit(f"report-check: images missing: {missing}")
img = mpimg.imread(shot)
ink = float((img[..., :3].mean(axis=2) < 0.9).mean())
print(f"report-check: {report} rendered by Chromium -> {shot} ({img.shape[1]}x{img.shape[0]} px, "
      f"{100 * ink:.1f} % ink, {len(srcs)} image(s) referenced, all present)")
if ink < 0.01:
    sys.exit("report-check: the screenshot is blank")
PY
