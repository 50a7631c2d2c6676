#!/usr/bin/env python3
"""Write test/fixtures/tokenizer-cases.json: hand-written tricky strings and the ids the reference
`tokenizers` package gives for them (with truncation at 256 and at 12), for tokenizer.test.ts.

  python reference/make-tokenizer-fixture.py $FEEDLOG_CACHE/models/all-MiniLM-L6-v2-int8/tokenizer.json
"""
import json
import sys
from pathlib import Path

from tokenizers import Tokenizer

CASES = [
    "Café déjà vu: naïve résumé",
    "ÀÉÎÕÜ Ça ÇA façade",
    "e\u0301cole vs \u00e9cole (combining accent vs precomposed)",
    "Hello, world!!! (test) -- ok... $5.99? #1 @user",
    "don't stop-believing; it's 3.14% of U.S.A.",
    "北京欢迎你 and 東京 plus 서울 and ひらがな",
    "emoji 😀🚀 and ♥ symbols €100 ±5",
    "tab\there\nnewline\u00a0nbsp\u200bzero-width\u3000ideographic-space",
    "\u0000ctrl\u0007chars\ufffdreplacement",
    "[CLS] is special [MASK] but [unk] and [Sep] are text",
    "supercalifragilisticexpialidocious " + "x" * 120,
    "Ünïcödé ﬁ ligature ℌ ① ² ＡＢＣ fullwidth",
    "İstanbul ß Straße ǅ Ωmega",
    "Apple's iPhone 6 — rumours “leak” ‘again’ … ",
    "",
    "   ",
    "A",
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen",
    "Stocks rally as Fed holds rates; Dow +1.2%, S&P 500 at record",
]


def main():
    tok = Tokenizer.from_file(sys.argv[1])
    tok.no_padding()
    out = []
    for text in CASES:
        row = {"text": text}
        for n in (256, 12):
            tok.enable_truncation(max_length=n)
            row[f"ids_{n}"] = tok.encode(text).ids
        out.append(row)
    target = Path(__file__).resolve().parent.parent / "test/fixtures/tokenizer-cases.json"
    lines = ",\n".join("  " + json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) for r in out)
    target.write_text("[\n" + lines + "\n]\n", encoding="utf-8")
    print(f"wrote {len(out)} cases to {target}")


if __name__ == "__main__":
    main()
