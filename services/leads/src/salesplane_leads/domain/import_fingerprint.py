"""The fingerprint of an imported row: what makes re-running an import harmless.

It is the SHA-256 of the row's values after the same cleaning a lead gets (trimmed, e-mail lower
case, country upper case; lead source and campaign references case-folded), so a file saved again
by a spreadsheet, with other quoting, line endings or column order, has the same fingerprints. The
line number and file name are not part of it: the same person on another line is the same row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from salesplane_leads.domain.csv_rows import ImportRow

# Part of the hashed text, so that changing what is hashed can never collide with old fingerprints.
FINGERPRINT_VERSION = "leads-import-row/1"


def row_fingerprint(row: ImportRow) -> str:
    content = {
        "version": FINGERPRINT_VERSION,
        "fields": asdict(row.fields.cleaned()),
        "lead_source": row.lead_source.strip().casefold(),
        "campaign": row.campaign.strip().casefold(),
        "assigned_user_id": row.assigned_user_id.strip(),
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
