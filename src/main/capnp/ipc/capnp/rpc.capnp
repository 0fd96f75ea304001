# JSON-RPC through IPC: a request text in, the reply text out. Same IDs and ordinals as Core's.
@0x9c3505dc45e146ac;

using Proxy = import "/mp/proxy.capnp";

interface Rpc @0xacb1d37f0a713129 {
  executeRpc @0 (context :Proxy.Context, request :Text, uri :Text, user :Text) -> (result :Text);
}
