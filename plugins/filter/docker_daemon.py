# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``docker_daemon_json_plan``: what ``docker_runtime`` would do to a daemon.json.

The same pure function the module runs (``module_utils._docker_config.plan``),
applied on the controller to a content read from the host (``slurp``, or the
container_toolkit role's state scan).  A caller runs the module only when
the answer is "changed" or "error", so a converged host costs no module run
and the module still reports every change and every problem itself.

Documentation is in ``docker_daemon_json_plan.yml`` next to this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.module_utils._docker_config import DockerConfigError, plan


def _plain(value):
    """A value as the module would receive it: exact ``str``/``list``, not a
    templating engine's tagged subclass (the merge compares JSON types exactly)."""
    if isinstance(value, str):
        return u"".join([value])
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def docker_daemon_json_plan(content, state="present", name="nvidia", runtime_path="/usr/bin/nvidia-container-runtime",
                            runtime_args=None, set_as_default=None, cdi=None, path="/etc/docker/daemon.json",
                            base64_encoded=False):
    """``{changed, error, reload_required, runtimes, default_runtime}`` for ``content``.

    ``content`` is the file's text, or ``None`` when the file does not exist;
    with ``base64_encoded`` it is that text base64-encoded (``slurp``).  A
    content the module would refuse gives ``error`` (its message) and
    ``changed`` false.
    """
    if content is not None and not isinstance(content, str):
        raise AnsibleFilterError("docker_daemon_json_plan: the input must be a string or none, not %s"
                                 % type(content).__name__)
    if runtime_args is not None and not isinstance(runtime_args, (list, tuple)):
        raise AnsibleFilterError("docker_daemon_json_plan: runtime_args must be a list or none")
    result = {"changed": False, "error": None, "reload_required": "none", "runtimes": [], "default_runtime": None}
    text = _plain(content)
    if content is not None and base64_encoded:
        try:
            data = base64.b64decode(content.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AnsibleFilterError("docker_daemon_json_plan: the input is not base64: %s" % exc)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            result["error"] = "%s is not valid UTF-8 text: %s" % (path, exc)
            return result
    try:
        found = plan(text, state=_plain(state), name=_plain(name), runtime_path=_plain(runtime_path),
                     runtime_args=_plain(runtime_args), set_as_default=set_as_default, cdi=cdi, path=_plain(path))
    except DockerConfigError as exc:
        result["error"] = str(exc)
        return result
    result.update(changed=found["changed"], reload_required=found["reload_required"],
                  runtimes=found["runtimes"], default_runtime=found["after"].get("default-runtime"))
    return result


class FilterModule(object):
    """daemon.json filters."""

    def filters(self):
        return {"docker_daemon_json_plan": docker_daemon_json_plan}
