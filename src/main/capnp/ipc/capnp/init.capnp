# The first object every spawned or listening process serves. Same IDs and ordinals as Core's.
@0xf2c5cfa319406aa6;

using Proxy = import "/mp/proxy.capnp";
using Echo = import "echo.capnp";
using Mining = import "mining.capnp";
using Rpc = import "rpc.capnp";

interface Init @0x8838c700ba5cba65 {
  # Called first, pipelined on the bootstrap answer: the client's thread map for the server's.
  construct @0 (threadMap :Proxy.ThreadMap) -> (threadMap :Proxy.ThreadMap);
  makeEcho @1 (context :Proxy.Context) -> (result :Echo.Echo);
  # Kept so that the ordinals below stay Core's; always fails.
  makeMiningOld2 @2 () -> ();
  makeMining @3 (context :Proxy.Context) -> (result :Mining.Mining);
  makeRpc @4 (context :Proxy.Context) -> (result :Rpc.Rpc);
}
