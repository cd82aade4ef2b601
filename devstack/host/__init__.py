"""A local Functions host: runs `function_app.py`'s HTTP, queue and timer triggers together.

`python -m devstack host` (see `devstack.host.cli`), or from Python:
`with FunctionsHost(env, instances=2) as host: requests.post(host.url("ops/crawls"), ...)`.
"""

from devstack.host.startup import HostStartError
from devstack.host.supervisor import FunctionsHost

__all__ = ["FunctionsHost", "HostStartError"]
