# Reads Prometheus's text format on stdin with the Prometheus project's own Python client parser
# (Debian's python3-prometheus-client) and prints the samples as JSON: [{name, labels, value, type}].
import json, sys
from prometheus_client.parser import text_string_to_metric_families

out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value})
json.dump(out, sys.stdout)
