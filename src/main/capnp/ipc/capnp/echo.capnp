# The test interface of Bitcoin Core's IPC; same IDs and ordinals as Core's.
@0x888b4f7f51e691f7;

using Proxy = import "/mp/proxy.capnp";

interface Echo @0xd36b89640dc94399 {
  destroy @0 (context :Proxy.Context) -> ();
  echo @1 (context :Proxy.Context, echo :Text) -> (result :Text);
}
