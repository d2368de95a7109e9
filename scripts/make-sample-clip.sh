#!/usr/bin/env bash
# Builds models/sample.mp4, the bundled demo clip: real photographs (the sample
# images of Debian's `darknet` package: a dog, a bicycle and a truck; a person with
# a dog and a horse) sliding across a static scene at constant speed, so that the
# bundled detector finds real objects that move across the frame.
#   apt-get install ffmpeg darknet && scripts/make-sample-clip.sh [OUT]
set -euo pipefail
out=${1:-"$(dirname "$0")/../models/sample.mp4"}
data=${DARKNET_DATA:-/usr/share/darknet/data}
for f in dog.jpg person.jpg; do
  [ -f "$data/$f" ] || { echo "missing $data/$f: apt-get install darknet" >&2; exit 1; }
done
# 960x540 at 15 fps for 12 s. The dog photo (bicycle, dog, truck) crosses left to
# right in the first 8 s at 120 px/s; the person photo crosses right to left from
# 4 s to 12 s at 120 px/s, over a plain background that holds no object of its own.
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "color=c=0x404848:s=960x540:r=15:d=12" \
  -loop 1 -framerate 15 -i "$data/dog.jpg" \
  -loop 1 -framerate 15 -i "$data/person.jpg" \
  -filter_complex "\
[1:v]scale=400:-2,setsar=1[dog];\
[2:v]scale=-2:400,setsar=1[person];\
[0:v][dog]overlay=x='-400+120*t':y=120:shortest=1:eof_action=pass[a];\
[a][person]overlay=x='960-120*(t-4)':y=70:enable='gte(t,4)':shortest=1,format=yuv420p[v]" \
  -map "[v]" -t 12 -c:v libx264 -preset slow -crf 26 -g 30 -movflags +faststart -metadata title="edgecam sample" "$out"
ls -l "$out"
