# Test-only schema for the interop tests with the C++ reference peer: Core's Init plus what Core's
# schemas do not exercise yet (callbacks into client objects, structs, lists, exceptions).
@0xbac2429caffe26cb;

using Proxy = import "/mp/proxy.capnp";
using Init = import "/ipc/capnp/init.capnp";

interface TestInit @0x91ebcb15731081b3 extends(Init.Init) {
  makeCalculator @0 (context :Proxy.Context) -> (result :Calculator);
}

interface Calculator @0xb312e3f1263e674a {
  destroy @0 (context :Proxy.Context) -> ();
  # Sums the comma-separated integers of `terms`; before returning, prints every partial sum
  # ("partial <n>") on `printer`, a callback into the caller.
  solve @1 (context :Proxy.Context, terms :Text, printer :Printer) -> (result :Int64);
  # Returns `value` with every number plus one, both flags negated, "!" appended to `name`
  # and `blob` reversed.
  bump @2 (context :Proxy.Context, value :Mixed) -> (result :Mixed);
  # Returns `values` in reverse order.
  reverse @3 (context :Proxy.Context, values :List(Int32)) -> (result :List(Int32));
}

interface Printer @0xd6f3f596c12bd3d8 {
  destroy @0 (context :Proxy.Context) -> ();
  print @1 (context :Proxy.Context, text :Text) -> ();
}

# Mixed primitive fields, to prove that our data-section packing is the compiler's.
struct Mixed @0xa1a84f93e645507e {
  flag @0 :Bool;
  small @1 :Int8;
  count @2 :UInt32;
  big @3 :Int64;
  name @4 :Text;
  ratio @5 :Float64;
  other @6 :Bool;
  medium @7 :Int16;
  blob @8 :Data;
  fraction @9 :Float32;
}

# Returns the printer it is given. Calls its caller pipelines on the result before the answer is back
# come back to the caller (they are reflected), later ones go to the caller's printer directly once the
# embargo on the promise is lifted: RpcConnection's forwarding and Disembargo paths.
interface Mirror @0xa4c70aaa480d05a9 {
  reflect @0 (printer :Printer) -> (result :Printer);
}
