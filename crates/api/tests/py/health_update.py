"""docker-py against berthd: container.update, a health check, networks.prune.

argv[1] is a unique name prefix; DOCKER_HOST points at the daemon.
"""

import sys
import time

import docker

prefix = sys.argv[1]
client = docker.from_env()

c = client.containers.run(
    "busybox",
    ["sleep", "300"],
    name=prefix + "-hc",
    detach=True,
    healthcheck={"test": ["CMD", "true"], "interval": 1_000_000_000, "retries": 2},
)
try:
    deadline = time.time() + 60
    while True:
        c.reload()
        health = c.attrs["State"].get("Health") or {}
        if health.get("Status") == "healthy" or time.time() > deadline:
            break
        time.sleep(0.2)
    assert health.get("Status") == "healthy", health
    assert health["FailingStreak"] == 0, health
    assert health["Log"][0]["ExitCode"] == 0, health

    res = c.update(mem_limit="32m", cpu_shares=256)
    assert res == {"Warnings": []}, res
    c.reload()
    hc = c.attrs["HostConfig"]
    assert hc["Memory"] == 32 * 1024 * 1024, hc["Memory"]
    assert hc["CpuShares"] == 256, hc["CpuShares"]
    try:
        c.update(mem_limit="1k")
        raise AssertionError("a 1k memory limit was accepted")
    except docker.errors.APIError as e:
        assert e.status_code == 400, e
        assert "Minimum memory limit" in str(e), e
finally:
    c.remove(force=True)

net = client.networks.create(prefix + "-net", labels={"t": prefix})
pruned = client.networks.prune(filters={"label": ["t=" + prefix]})
assert pruned["NetworksDeleted"] == [net.name], pruned
print("docker-py health/update ok")
