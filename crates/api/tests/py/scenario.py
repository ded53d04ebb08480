"""docker-py against berthd: the calls Python tools make, every key they index present."""
import sys
import time

import docker

prefix = sys.argv[1]
c = docker.from_env(timeout=60)
assert c.ping()
v = c.version()
assert v["ApiVersion"] == "1.44", v
info = c.info()
for k in ("Containers", "Images", "OperatingSystem", "NCPU", "MemTotal", "ServerVersion"):
    assert k in info, k

assert any("busybox:latest" in i.tags for i in c.images.list())
out = c.containers.run("busybox", ["echo", "hi"], remove=True)
assert out == b"hi\n", out

ct = c.containers.run("busybox", ["sh", "-c", "echo ready; while true; do sleep 0.1; done"],
                      detach=True, name=prefix + "-d", labels={"suite": prefix})
ct.reload()
assert ct.status == "running", ct.status
assert ct.attrs["Config"]["Labels"]["suite"] == prefix
assert [x.name for x in c.containers.list(filters={"label": "suite=" + prefix})] == [prefix + "-d"]
time.sleep(0.3)
assert ct.logs() == b"ready\n", ct.logs()
code, output = ct.exec_run(["sh", "-c", "echo from-exec; exit 3"])
assert (code, output) == (3, b"from-exec\n"), (code, output)
s = ct.stats(stream=False)
for k in ("precpu_stats", "cpu_stats", "memory_stats", "pids_stats", "blkio_stats"):
    assert k in s, k
assert "online_cpus" in s["cpu_stats"] and "system_cpu_usage" in s["cpu_stats"]
top = ct.top()
assert "Titles" in top and top["Processes"], top

net = c.networks.create(prefix + "-net", driver="bridge")
assert c.networks.get(net.id).name == prefix + "-net"
vol = c.volumes.create(prefix + "-vol")
assert c.volumes.get(vol.name).attrs["Driver"] == "local"

since = int(time.time()) - 1
ct.stop(timeout=1)
ct.reload()
assert ct.status == "exited", ct.status
ct.remove()
events = c.events(since=since, until=int(time.time()) + 1, decode=True,
                  filters={"container": prefix + "-d"})
actions = [e["status"] for e in events]
assert "die" in actions and "destroy" in actions, actions
for e in c.events(since=since, until=int(time.time()) + 1, decode=True, filters={"type": "container"}):
    for k in ("status", "id", "from", "Type", "Action", "Actor", "time", "timeNano"):
        assert k in e, (k, e)

net.remove()
vol.remove()
try:
    c.containers.get("nosuch-" + prefix)
    raise AssertionError("a missing container was found")
except docker.errors.NotFound:
    pass
print("docker-py scenario ok")
