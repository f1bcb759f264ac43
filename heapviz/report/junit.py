"""JUnit XML (`-o leaks.junit.xml`) for CI dashboards: one test case per threshold, failed when
it is exceeded, with the stacks to read first in its message. Deterministic (no times, no host
names); every string from a profile is made valid XML 1.0 text and escaped by ElementTree."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

from heapviz.report.collect import ReportData, Threshold
from heapviz.report.summary_md import culprits, report_names, threshold_name, threshold_value
from heapviz.text import safe

MESSAGE_CULPRITS = 3  # in the failure's message, which dashboards show on one line
BODY_CULPRITS = 10  # in the failure's text
# What XML 1.0 cannot hold even as a character reference (after safe() has taken the controls).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """A profile string as XML text: control characters and undecodable bytes shown as \\xNN,
    as on a terminal; `<`, `&` and quotes are left to ElementTree to escape."""
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group(0)):04x}", safe(text))


def _case(suite: ET.Element, r: ReportData, t: Threshold, classname: str) -> None:
    name = threshold_name(r, t)
    case = ET.SubElement(suite, "testcase", classname=classname, name=xml_text(name), time="0")
    value, limit = threshold_value(r, t), r.bytes_text(t.limit)
    if not t.exceeded:
        out = ET.SubElement(case, "system-out")
        out.text = xml_text(f"{name} {value}, within the limit of {limit}")
        return
    top = culprits(r, t, MESSAGE_CULPRITS)
    message = f"{name} {value} is over the limit of {limit}"
    if top:
        label = "top suspects" if t.name == "growth" and r.mode in ("series", "base") and r.suspects else \
            f"largest {r.words.site}s"
        message += f"; {label}: " + ", ".join(top)
    failure = ET.SubElement(case, "failure", message=xml_text(message), type="threshold exceeded")
    body = [f"{name}: {value} ({t.value}), limit {limit} ({t.limit})", *culprits(r, t, BODY_CULPRITS)]
    failure.text = xml_text("\n".join(body))


def write_junit(r: ReportData, options: object = None) -> bytes:
    """The JUnit XML as a report writer (heapviz/writers.py). Without thresholds the suite has no
    test cases: there is nothing to pass or fail."""
    failures = sum(1 for t in r.thresholds if t.exceeded)
    counts = {"tests": str(len(r.thresholds)), "failures": str(failures), "errors": "0"}
    suite_name = f"heapviz: {r.title}"
    root = ET.Element("testsuites", {"name": "heapviz", **counts, "time": "0"})
    suite = ET.SubElement(root, "testsuite", {"name": xml_text(suite_name), **counts, "skipped": "0", "time": "0"})
    props = ET.SubElement(suite, "properties")
    files = [d.file for d in r.dumps] if r.mode in ("series", "base") else r.profiles
    for key, value in (("heapviz", r.version), ("program", r.program), ("mode", r.mode),
                       ("profiles", ", ".join(os.path.basename(f) for f in files)),
                       ("reports", ", ".join(report_names(r)))):
        if value:
            ET.SubElement(props, "property", name=key, value=xml_text(value))
    classname = "heapviz." + (r.program or "profile")
    for t in r.thresholds:
        _case(suite, r, t, xml_text(classname))
    if r.warnings:
        err = ET.SubElement(suite, "system-err")
        err.text = xml_text("\n".join(f"warning: {w}" for w in r.warnings))
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode("utf-8", "replace")
