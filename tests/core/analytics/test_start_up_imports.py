"""Building an app registers the analytics metrics without importing SciPy (about half a second of every
app start, every ``trellis`` command and every test app); SciPy loads when a refresh fits the models."""
from __future__ import annotations

import subprocess
import sys


def test_create_app_does_not_import_scipy_and_a_refresh_does(tmp_path):
    code = (
        "import sys\n"
        "from api.app import create_app\n"
        f"app = create_app({{'DATABASE_URL': 'sqlite:///{tmp_path / 'x.db'}'}})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'sklearn')))\n"
        "from core.analytics import fit_bgnbd\n"
        "print('scipy.optimize' in sys.modules, 'scipy.special' in sys.modules)\n"
        "fit_bgnbd([1, 0, 2], [5.0, 0.0, 9.0], [10.0, 10.0, 10.0])\n"
        "print('scipy.optimize' in sys.modules, 'scipy.special' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:3] == ["[]", "False False", "True True"], out
