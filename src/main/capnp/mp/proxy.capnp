# libmultiprocess' own interfaces: the threads a client asks a server to run its calls on.
# IDs and ordinals are the wire contract with Bitcoin Core's processes (IPC-FACTS section 4).
@0xcc316e3f71a040fb;

# Made by Init.construct; the only way for a client to get server threads.
interface ThreadMap @0xee5e37179ad9dc9d {
  # A new server thread, alive until the capability is released or the connection ends.
  makeThread @0 (name :Text) -> (result :Thread);
  # Threads that serve calls whose context names no thread.
  makePool @1 (count :UInt32) -> ();
}

interface Thread @0x81c1e2600d0b56c5 {
  getName @0 () -> (result :Text);
}

# First parameter of every method that runs on a chosen thread.
struct Context @0x9c44e6645d0b22c6 {
  thread @0 :Thread;          # server thread that runs the call
  callbackThread @1 :Thread;  # client thread that runs calls back into the client
}
