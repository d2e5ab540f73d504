#!/usr/bin/env python3
"""Checks a /metrics page against PromQL queries: every metric a query names is on the page, and
every label it matches on or groups by is a label of that metric there. Usage:
  metrics_check.py METRICS.txt QUERIES.txt|DASHBOARD.json...
A .json file is a Grafana dashboard: its panels' targets[].expr and templating queries are used.
Prints one line per problem and exits 1 when there is one."""
import json
import re
import sys

# Prometheus attaches these at scrape time; a page never carries them.
SCRAPE_LABELS = {"instance", "job", "__name__"}
FUNCTIONS = {
    "sum", "rate", "irate", "increase", "count", "max", "min", "avg", "time", "by", "without",
    "and", "or", "unless", "label_values", "clamp_min", "clamp_max", "topk", "bottomk", "delta",
    "deriv", "abs", "sort", "sort_desc", "on", "ignoring", "group_left", "group_right", "offset",
    "bool", "vector", "scalar", "round", "last_over_time", "max_over_time", "avg_over_time",
    "sum_over_time", "changes", "resets", "absent", "histogram_quantile", "label_replace",
    "query_result", "metrics", "label_names",
}


def page_labels(text):
    """metric name -> set of label names seen on the page."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s", line)
        if not m:
            continue
        labels = out.setdefault(m.group(1), set())
        for pair in re.finditer(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""):
            labels.add(pair.group(1))
    return out


def queries_of(path):
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            dash = json.load(f)
        found = []

        def walk(node):
            if isinstance(node, dict):
                if node.get("type") == "datasource":
                    return  # a data source picker: its "query" is a plugin name
                for k, v in node.items():
                    if k == "expr" and isinstance(v, str):
                        found.append(v)
                    elif k == "query" and isinstance(v, str):
                        found.append(v)
                    elif k == "query" and isinstance(v, dict) and isinstance(v.get("query"), str):
                        found.append(v["query"])
                    else:
                        walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(dash)
        return found
    with open(path, encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]


def check(query, labels_of):
    problems = []
    # Strip strings, range selectors and Grafana variables that look like identifiers.
    q = re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)
    q = re.sub(r"\[[^\]]*\]", "", q)
    q = re.sub(r"\$[a-zA-Z_][a-zA-Z0-9_]*", "", q)
    # label_values(metric, label): the label is not a metric; it is checked as a grouping below.
    grouped = []
    lv = re.match(r"\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$", q)
    if lv:
        grouped.append(lv.group(2))
        q = f"label_values({lv.group(1)})"
    metrics = []
    for m in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{([^}]*)\})?", q):
        name = m.group(1)
        if name in FUNCTIONS or re.fullmatch(r"[0-9e]+", name):
            continue
        # An identifier directly followed by "(" is a function we do not know: say so.
        rest = q[m.end():].lstrip()
        if rest.startswith("(") and not m.group(2):
            if name not in FUNCTIONS:
                problems.append(f"{query}: unknown function {name}() (add it to FUNCTIONS)")
            continue
        if name not in labels_of:
            # Labels inside by (...) are matched below; skip them here.
            before = q[:m.start()].rstrip()
            if re.search(r"(by|without|on|ignoring|group_left|group_right)\s*\([^)]*$", before):
                continue
            problems.append(f"{query}: metric {name} is not on the page")
            continue
        metrics.append(name)
        for matcher in re.finditer(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)", m.group(3) or ""):
            label = matcher.group(1)
            if label not in SCRAPE_LABELS and label not in labels_of[name]:
                problems.append(f"{query}: {name} has no label {label}")
    # by (...) / label_values(metric, label): labels that every metric of the query must carry.
    for g in re.finditer(r"\b(?:by|without)\s*\(([^)]*)\)", q):
        grouped += [x.strip() for x in g.group(1).split(",") if x.strip()]
    for label in grouped:
        if label in SCRAPE_LABELS:
            continue
        for name in metrics:
            if label not in labels_of[name]:
                problems.append(f"{query}: {name} has no label {label} (grouped by)")
    if not metrics and not problems:
        problems.append(f"{query}: names no metric")
    return problems


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        labels_of = page_labels(f.read())
    problems = []
    n = 0
    for path in sys.argv[2:]:
        for query in queries_of(path):
            n += 1
            problems += check(query, labels_of)
    for p in problems:
        print(p)
    print(f"{n} queries checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
