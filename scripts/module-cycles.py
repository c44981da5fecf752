#!/usr/bin/env python3
"""Import cycles between the files of a crate: every `crate::a::b` a file names (in
`use` or inline) is an edge to the file that defines module `a::b` (or the nearest
enclosing one), `super::` resolved against the file's own module, and a child module
named by a bare path counts as well (a `mod` declaration alone does not). Prints each strongly
connected group of files and fails when one has more than MAX files.

    scripts/module-cycles.py crates/server/src [MAX]
"""
import os
import re
import sys

src = sys.argv[1]
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 3

# module path (tuple) -> file
files = {}
for root, _, names in os.walk(src):
    for n in names:
        if not n.endswith(".rs"):
            continue
        path = os.path.join(root, n)
        rel = os.path.relpath(path, src)[:-3].split(os.sep)
        if rel[-1] in ("lib", "main", "mod"):
            rel = rel[:-1]
        files[tuple(rel)] = path


def strip_tests(text):
    # Unit tests may reach anywhere; they are not the module's dependencies.
    i = text.find("#[cfg(test)]")
    return text if i < 0 else text[:i]


def resolve(parts):
    """The file of the longest module prefix of `parts`."""
    for n in range(len(parts), -1, -1):
        if tuple(parts[:n]) in files:
            return files[tuple(parts[:n])]
    return None


edges = {f: set() for f in files.values()}
path_re = re.compile(r"\b(crate|super)((?:::\w+)+)")
group_re = re.compile(r"\b(crate|super)((?:::\w+)*)::\{([^}]*)\}", re.S)
for module, path in files.items():
    text = strip_tests(open(path).read())
    text = re.sub(r"//.*", "", text)
    refs = []
    for m in group_re.finditer(text):
        base = [m.group(1)] + m.group(2).split("::")[1:]
        for item in m.group(3).split(","):
            item = item.strip().split(" as ")[0].strip()
            if item:
                refs.append(base + item.split("::"))
    for m in path_re.finditer(text):
        refs.append([m.group(1)] + m.group(2).split("::")[1:])
    # A child module named by a bare path (`tokens::issue` in the file that declares
    # `mod tokens;`) is a dependency too; the declaration itself is not.
    children = re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text, re.M)
    body = re.sub(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*;", "", text, flags=re.M)
    for child in children:
        if re.search(r"(?<![\w:])" + child + r"::", body):
            refs.append(["self", child])
    for ref in refs:
        if ref[0] == "self":
            parts = list(module) + ref[1:]
        elif ref[0] == "crate":
            parts = ref[1:]
        else:
            # super:: is relative to the file's module; a mod.rs file is its module.
            parent = list(module[:-1]) if module else []
            rest = ref[1:]
            while rest and rest[0] == "super":
                parent = parent[:-1]
                rest = rest[1:]
            parts = parent + rest
        target = resolve([p for p in parts if p != "self"])
        if target and target != path:
            edges[path].add(target)

# Tarjan's strongly connected components.
index, low, stack, on, groups, counter = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        group = []
        while True:
            w = stack.pop()
            on.discard(w)
            group.append(w)
            if w == v:
                break
        groups.append(group)


sys.setrecursionlimit(10000)
for v in sorted(edges):
    if v not in index:
        visit(v)

worst = 0
for g in sorted(groups, key=len, reverse=True):
    if len(g) > 1:
        print(f"cycle of {len(g)} files: " + ", ".join(sorted(os.path.relpath(f, src) for f in g)))
    worst = max(worst, len(g))
print(f"{len(files)} files; the largest import cycle has {worst} file(s) (limit {limit})")
sys.exit(1 if worst > limit else 0)
