#!/bin/sh
# Speaker adaptation of pocketsphinx's en-us model to espeak-ng speech: one global MLLR
# transform of the Gaussian means (the CMU Sphinx adaptation recipe: sphinx_fe, bw,
# mllr_solve), estimated on in-grammar questions spoken by tuning voices only (en-us,
# en-gb and variants), never the held-out voices of consilium-bench-asr.
#
#   training/asr/adapt_mllr.sh [BUILD_DIR] [OUT]     (defaults: build, resources/audio/en-us-espeak.mllr)
#
# Needs: sphinxtrain, sphinxbase-utils (sphinx_fe), pocketsphinx (pocketsphinx_mdef_convert),
# pocketsphinx-en-us, espeak-ng, sox, python3-numpy. About a minute here.
set -eu
BUILD=${1:-build}
OUT=${2:-resources/audio/en-us-espeak.mllr}
HERE=$(cd "$(dirname "$0")" && pwd)
MODEL=/usr/share/pocketsphinx/model/en-us
ST=/usr/lib/sphinxtrain
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# 240 questions, spoken by tuning voices at 130-180 words per minute, without noise.
"$BUILD/bin/consilium-bench-asr" --no-adaptation --count 240 --seed 1001 --noise-fraction 0 \
    --voices en-us,en-gb,en-us+m1,en-us+f1,en-gb+m2,en-gb+f4,en-us+m5,en+m4,en-gb+f5,en-us+m7 \
    --save-audio "$W/saved" --out "$W/bench.json"

mkdir -p "$W/wav" "$W/acc"
: > "$W/adapt.fileids"
: > "$W/adapt.transcription"
while IFS="$(printf '\t')" read -r id text; do
    sox "$W/saved/$id.wav" -r 16000 -c 1 -b 16 "$W/wav/$id.wav"
    echo "$id" >> "$W/adapt.fileids"
    echo "<s> $text </s> ($id)" >> "$W/adapt.transcription"
done < "$W/saved/transcripts.tsv"

# The model as bw wants it: text mdef, mixture weights expanded from the sendump.
cp -r "$MODEL/en-us" "$W/hmm"
pocketsphinx_mdef_convert -text "$W/hmm/mdef" "$W/hmm/mdef.txt" 2> "$W/mdef.log"
/usr/bin/python3 "$HERE/sendump_to_mixw.py" "$W/hmm/sendump" "$W/hmm/mixture_weights"
cat "$MODEL/cmudict-en-us.dict" resources/audio/consilium-extra.dict > "$W/dict"

sphinx_fe -argfile "$W/hmm/feat.params" -samprate 16000 -c "$W/adapt.fileids" \
    -di "$W/wav" -do "$W/wav" -ei wav -eo mfc -mswav yes > "$W/fe.log" 2>&1
"$ST/bw" -hmmdir "$W/hmm" -moddeffn "$W/hmm/mdef.txt" -ts2cbfn .ptm. -feat 1s_c_d_dd \
    -svspec 0-12/13-25/26-38 -cmn batch -agc none -dictfn "$W/dict" \
    -fdictfn "$W/hmm/noisedict" -ctlfn "$W/adapt.fileids" -lsnfn "$W/adapt.transcription" \
    -cepdir "$W/wav" -accumdir "$W/acc" > "$W/bw.log" 2>&1 || { tail -20 "$W/bw.log"; exit 1; }
"$ST/mllr_solve" -meanfn "$W/hmm/means" -varfn "$W/hmm/variances" \
    -outmllrfn "$W/mllr_matrix" -accumdir "$W/acc" > "$W/mllr.log" 2>&1 || { tail -20 "$W/mllr.log"; exit 1; }
cp "$W/mllr_matrix" "$OUT"
echo "wrote $OUT from $(wc -l < "$W/adapt.fileids") utterances"
