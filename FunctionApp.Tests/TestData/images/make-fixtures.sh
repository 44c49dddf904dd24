#!/usr/bin/env bash
# Regenerates the image fixtures that SkiaSharp cannot write itself (GIF, palette PNG) and the
# resize reference. Needs ImageMagick (apt-get install imagemagick). The tests only read the results.
set -euo pipefail
cd "$(dirname "$0")"
# Two-frame GIF: the first frame is red, the second blue; decoders must return the first.
convert -size 16x16 xc:'#FF0000' xc:'#0000FF' -delay 10 -loop 0 two-frames.gif
# Palette (colour-type 3) PNG: left half green, right half blue.
convert -size 16x16 xc:'#00FF00' -size 16x16 xc:'#0000FF' +append -define png:color-type=3 palette.png
# Horizontal grey ramp 64x16 and its 16x4 triangle-filter resize: the reference for the bilinear resize test.
convert -size 16x64 gradient:black-white -rotate 270 -depth 8 -colorspace Gray -define png:color-type=0 ramp.png
convert ramp.png -filter Triangle -resize '16x4!' -depth 8 -define png:color-type=0 ramp-16x4.png
