"""Great Expectations imported without scipy.stats and altair, which still load when used.

In a fresh interpreter (what a `milestones run` or a `validate` task process starts with).
"""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, sys
from milestones.ingest import gx_import
gx = gx_import.load()
real = lambda name: type(sys.modules.get(name)).__name__ == "module"
before = {name: real(name) for name in gx_import.DEFERRED}
suite = gx.ExpectationSuite(name="s")  # GX itself works
from scipy import stats  # a later user of the deferred module gets it working
value = float(stats.norm.cdf(0.0))
import scipy.stats
import importlib.util
print(json.dumps({"before": before, "cdf": value, "real_after": real("scipy.stats"),
                  "same": scipy.stats.norm is stats.norm, "spec": importlib.util.find_spec("altair") is not None,
                  "suite": suite.name}))
"""


def test_gx_loads_without_scipy_stats_and_altair_and_they_still_work_when_used():
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=300, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["before"] == {"scipy.stats": False, "altair": False, "boto3": False}
    assert out["cdf"] == 0.5 and out["real_after"] and out["same"] and out["spec"]
    assert out["suite"] == "s"
