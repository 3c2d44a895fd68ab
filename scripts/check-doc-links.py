#!/usr/bin/env python3
# SPDX-License-Identifier: PostgreSQL
"""Every relative link of README.md and docs/*.md reaches a file that exists and, with
#anchor, a heading of it (GitHub's anchors: lower case, punctuation dropped, blanks to
hyphens).  Prints each broken link; exits 1 if there is one.  The argument, if any, is
the folder to check instead of the source tree (the package's /usr/share/doc/...)."""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else \
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ["README.md"] + sorted("docs/" + f for f in os.listdir(os.path.join(ROOT, "docs"))
                               if f.endswith(".md"))


def anchors(path):
    found, fenced = set(), False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fenced = not fenced
        m = None if fenced else re.match(r"^#{1,6} (.*)", line)
        if m:
            text = m.group(1).strip().lower().replace("`", "")
            found.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return found


def main():
    broken = 0
    for name in FILES:
        here = os.path.dirname(os.path.join(ROOT, name))
        text = re.sub(r"```.*?```", "", open(os.path.join(ROOT, name), encoding="utf-8").read(),
                      flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            full = os.path.normpath(os.path.join(here, path)) if path else os.path.join(ROOT, name)
            if not os.path.exists(full):
                print(f"{name}: link to a missing file: {target}")
                broken += 1
            elif anchor and full.endswith(".md") and anchor not in anchors(full):
                print(f"{name}: link to a missing heading: {target}")
                broken += 1
    print(f"doc links: {len(FILES)} files, {broken} broken" if broken else
          f"doc links: {len(FILES)} files, every relative link and anchor resolves")
    return 1 if broken else 0


sys.exit(main())
