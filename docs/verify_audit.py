"""Verify one rolegate audit chain exported as JSON Lines, with the standard library only:
    rolegate audit export --tenant acme > acme.jsonl && python verify_audit.py acme.jsonl"""
import hashlib, json, sys
from datetime import UTC, datetime

FIELDS = ("actor", "actor_ip", "user_agent", "request_id", "action", "target_type",
          "target_id", "outcome", "details")
prev, seq, count = "0" * 64, 0, 0  # the genesis; after a prune, the anchor's seq and hash
for line in open(sys.argv[1], encoding="utf-8"):
    event = json.loads(line)
    at = datetime.fromisoformat(event["occurred_at"]).astimezone(UTC)
    document = {"v": 1, "id": event["id"], "chain": event["chain_id"], "seq": event["seq"],
                "prev": event["prev_hash"], "tenant": event["tenant_id"],
                "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                **{name: event[name] for name in FIELDS}}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    linked = (count == 0 and seq == 0 and event["seq"] > 1) or (event["seq"], event["prev_hash"]) == (seq + 1, prev)
    if not linked or hashlib.sha256(canonical.encode()).hexdigest() != event["hash"]:
        sys.exit(f"broken at event {event['id']} (seq {event['seq']})")
    prev, seq, count = event["hash"], event["seq"], count + 1
print(f"intact: {count} events, head {seq} {prev}")
