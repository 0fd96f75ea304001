// mp_peer: a test peer built on the C++ reference implementation of Cap'n Proto RPC.
//
// It plays the other side of the interop tests of the Java implementation: it serves a TestInit
// (test.capnp) that follows libmultiprocess' conventions (a ThreadMap made by Init.construct,
// every call naming one of the server's threads in its Context), it runs fixed client scenarios
// against a server that bootstraps a TestInit, and it measures the reference round-trip figure
// for the Echo benchmark.
//
// Usage:
//   mp_peer serve-fd <fd>                serve a TestInit on an inherited connected socket
//   mp_peer serve-unix <path>            listen on a unix socket, serve each connection
//   mp_peer serve-mirror-fd <fd>         serve a Mirror (test.capnp) on an inherited connected socket
//   mp_peer client-fd <fd> <scenario>    run a client scenario on an inherited socket
//   mp_peer client-unix <path> <scenario>
//   mp_peer bench <iterations> <size> <inflight>
// Scenarios: echo, callback, exception, disconnect, destroyed-call, bad-thread, rpc (against a TestInit),
// reflect, reflect-cancel (against a Mirror).
// The served TestInit extends Core's Init, and the scenarios that use only Init's methods (echo, rpc) also
// run against a bitcoin-node's -ipcbind socket.
//
// Everything observable is printed to stdout, one line per event, flushed at once. Errors go to
// stderr, with a non-zero exit status.

#include <capnp/capability.h>
#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.h>
#include <kj/async-io.h>
#include <kj/debug.h>
#include <kj/exception.h>
#include <kj/string.h>
#include <kj/vector.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <errno.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipc/capnp/echo.capnp.h>
#include <ipc/capnp/init.capnp.h>
#include <ipc/capnp/rpc.capnp.h>
#include <mp/proxy.capnp.h>
#include <test.capnp.h>

namespace {

using VatId = capnp::rpc::twoparty::VatId;
using Side = capnp::rpc::twoparty::Side;

// ---------------------------------------------------------------------------------------------
// Output and errors

template <typename... Parts>
void emit(Parts&&... parts) {
  kj::String line = kj::str(kj::fwd<Parts>(parts)...);
  std::fwrite(line.cStr(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// An exception whose description is exactly `text` (no file/line decoration), so that the other
// side sees precisely that text as the reason.
kj::Exception failure(kj::StringPtr text) {
  return kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__, kj::heapString(text));
}

[[noreturn]] void fail(kj::StringPtr text) { kj::throwFatalException(failure(text)); }

long long parseInteger(kj::StringPtr text, kj::StringPtr what) {
  if (text.size() == 0) fail(kj::str("invalid ", what, ": empty"));
  char* end = nullptr;
  errno = 0;
  long long value = std::strtoll(text.cStr(), &end, 10);
  if (errno != 0 || end == nullptr || *end != '\0') fail(kj::str("invalid ", what, ": '", text, "'"));
  return value;
}

int parseFd(kj::StringPtr text) {
  long long fd = parseInteger(text, "file descriptor");
  if (fd < 0 || fd > 1 << 20) fail(kj::str("invalid file descriptor: ", text));
  struct stat st;
  if (fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    fail(kj::str("file descriptor ", text, " is not an open socket"));
  }
  return static_cast<int>(fd);
}

kj::String joinInts(kj::ArrayPtr<const long long> values) {
  kj::Vector<kj::String> parts;
  for (long long v : values) parts.add(kj::str(v));
  return kj::strArray(parts, ",");
}

// ---------------------------------------------------------------------------------------------
// Threads: the same implementation serves the server's threads and the client's callback thread.

class ThreadImpl final : public Thread::Server {
 public:
  explicit ThreadImpl(kj::String name) : name(kj::mv(name)) {}

 protected:
  kj::Promise<void> getName(GetNameContext context) override {
    context.getResults().setResult(name);
    return kj::READY_NOW;
  }

 private:
  kj::String name;
};

// Resolves to whether `context.thread` (if set) is an object of `threads`. With `expected` set,
// the thread must also be that very object. Keeps the client alive while it waits.
kj::Promise<bool> isOwnThread(capnp::CapabilityServerSet<Thread>& threads,
                              Context::Reader context, Thread::Server* expected) {
  if (!context.hasThread()) return false;
  auto client = kj::heap<Thread::Client>(context.getThread());
  auto lookup = threads.getLocalServer(*client);
  return lookup.attach(kj::mv(client))
      .then([expected](kj::Maybe<Thread::Server&> server) -> bool {
        KJ_IF_MAYBE(s, server) { return expected == nullptr || s == expected; }
        return false;
      });
}

// ---------------------------------------------------------------------------------------------
// Server side: the TestInit served in serve-fd / serve-unix mode.

// State shared by all objects served on one connection.
struct Session : public kj::Refcounted {
  explicit Session(kj::Timer& timer) : timer(timer) {}
  kj::Timer& timer;
  capnp::CapabilityServerSet<Thread> threads;  // every server thread is made through this set
};

// A null thread is accepted; a set thread must be one of this connection's server threads.
kj::Promise<void> checkContext(Session& session, Context::Reader context) {
  bool hasThread = context.hasThread();
  if (!hasThread) return kj::READY_NOW;
  return isOwnThread(session.threads, context, nullptr).then([](bool own) -> kj::Promise<void> {
    if (!own) return failure("invalid thread handle");
    return kj::READY_NOW;
  });
}

class ServerThreadMap final : public ThreadMap::Server {
 public:
  explicit ServerThreadMap(kj::Own<Session> session) : session(kj::mv(session)) {}

 protected:
  kj::Promise<void> makeThread(MakeThreadContext context) override {
    kj::StringPtr name = context.getParams().getName();
    emit("makeThread ", name);
    context.getResults().setResult(
        session->threads.add(kj::heap<ThreadImpl>(kj::str("cpp-peer/", name))));
    return kj::READY_NOW;
  }

  kj::Promise<void> makePool(MakePoolContext context) override {
    emit("makePool ", context.getParams().getCount());
    return kj::READY_NOW;
  }

 private:
  kj::Own<Session> session;
};

class ServerEcho final : public Echo::Server {
 public:
  explicit ServerEcho(kj::Own<Session> session) : session(kj::mv(session)) {}
  ~ServerEcho() noexcept(false) { emit("released echo"); }

 protected:
  kj::Promise<void> destroy(DestroyContext context) override {
    if (destroyed) return failure("called after destroy");
    return checkContext(*session, context.getParams().getContext()).then([this]() {
      emit("destroy echo");
      destroyed = true;
    });
  }

  kj::Promise<void> echo(EchoContext context) override {
    if (destroyed) return failure("called after destroy");
    return checkContext(*session, context.getParams().getContext())
        .then([this, context]() mutable -> kj::Promise<void> {
          kj::String text = kj::heapString(context.getParams().getEcho());
          emit("echo ", text.size());
          if (text.startsWith("throw:")) {
            return failure(text.slice(strlen("throw:")));
          }
          if (text.startsWith("sleep:")) {
            long long ms = parseInteger(text.slice(strlen("sleep:")), "sleep milliseconds");
            if (ms < 0) ms = 0;
            // A caller that goes away (or sends Finish early) cancels the wait.
            context.allowCancellation();
            return session->timer.afterDelay(ms * kj::MILLISECONDS)
                .then([context, text = kj::mv(text)]() mutable {
                  context.getResults().setResult(text);
                });
          }
          context.getResults().setResult(text);
          return kj::READY_NOW;
        });
  }

 private:
  kj::Own<Session> session;
  bool destroyed = false;
};

class ServerCalculator final : public Calculator::Server {
 public:
  explicit ServerCalculator(kj::Own<Session> session) : session(kj::mv(session)) {}
  ~ServerCalculator() noexcept(false) { emit("released calculator"); }

 protected:
  kj::Promise<void> destroy(DestroyContext context) override {
    if (destroyed) return failure("called after destroy");
    return checkContext(*session, context.getParams().getContext()).then([this]() {
      emit("destroy calculator");
      destroyed = true;
    });
  }

  kj::Promise<void> solve(SolveContext context) override {
    if (destroyed) return failure("called after destroy");
    return checkContext(*session, context.getParams().getContext())
        .then([context]() mutable -> kj::Promise<void> {
          auto params = context.getParams();
          auto state = kj::heap<SolveState>();
          state->printer = params.getPrinter();
          auto callerContext = params.getContext();
          if (callerContext.hasCallbackThread()) {
            state->callbackThread = callerContext.getCallbackThread();
          }
          long long total = 0;
          kj::StringPtr terms = params.getTerms();
          size_t start = 0;
          while (terms.size() > 0) {
            KJ_IF_MAYBE(comma, terms.slice(start).findFirst(',')) {
              kj::String term = kj::heapString(terms.slice(start, start + *comma));
              total += parseInteger(term, "term");
              state->sums.add(total);
              start += *comma + 1;
            } else {
              total += parseInteger(terms.slice(start), "term");
              state->sums.add(total);
              break;
            }
          }
          auto& ref = *state;
          return ref.printFrom(0).attach(kj::mv(state)).then([context, total]() mutable {
            context.getResults().setResult(total);
          });
        });
  }

  kj::Promise<void> bump(BumpContext context) override {
    if (destroyed) return failure("called after destroy");
    return checkContext(*session, context.getParams().getContext()).then([context]() mutable {
      auto in = context.getParams().getValue();
      auto out = context.getResults().initResult();
      out.setFlag(!in.getFlag());
      out.setSmall(static_cast<int8_t>(in.getSmall() + 1));
      out.setCount(in.getCount() + 1u);
      out.setBig(in.getBig() + 1);
      out.setName(kj::str(in.getName(), "!"));
      out.setRatio(in.getRatio() + 1.0);
      out.setOther(!in.getOther());
      out.setMedium(static_cast<int16_t>(in.getMedium() + 1));
      auto blobIn = in.getBlob();
      auto blobOut = out.initBlob(blobIn.size());
      for (size_t i = 0; i < blobIn.size(); ++i) blobOut[i] = blobIn[blobIn.size() - 1 - i];
      out.setFraction(in.getFraction() + 1.0f);
    });
  }

  kj::Promise<void> reverse(ReverseContext context) override {
    if (destroyed) return failure("called after destroy");
    return checkContext(*session, context.getParams().getContext()).then([context]() mutable {
      auto in = context.getParams().getValues();
      auto out = context.getResults().initResult(in.size());
      for (uint i = 0; i < in.size(); ++i) out.set(i, in[in.size() - 1 - i]);
    });
  }

 private:
  // Calls printer.print("partial <sum>") for each partial sum, one after the other.
  struct SolveState {
    Printer::Client printer = nullptr;
    kj::Maybe<Thread::Client> callbackThread;
    kj::Vector<long long> sums;

    kj::Promise<void> printFrom(size_t i) {
      if (i >= sums.size()) return kj::READY_NOW;
      auto request = printer.printRequest();
      auto context = request.initContext();
      KJ_IF_MAYBE(thread, callbackThread) { context.setThread(*thread); }
      request.setText(kj::str("partial ", sums[i]));
      return request.send().then([this, i](auto&&) { return printFrom(i + 1); });
    }
  };

  kj::Own<Session> session;
  bool destroyed = false;
};

// Rpc for the Java client's test: answers with what it was given, so the three Text parameters are checked.
class ServerRpc final : public Rpc::Server {
 public:
  explicit ServerRpc(kj::Own<Session> session) : session(kj::mv(session)) {}
  ~ServerRpc() noexcept(false) { emit("released rpc"); }

 protected:
  kj::Promise<void> executeRpc(ExecuteRpcContext context) override {
    return checkContext(*session, context.getParams().getContext()).then([context]() mutable {
      auto params = context.getParams();
      emit("executeRpc ", params.getUri());
      context.getResults().setResult(kj::str("uri=", params.getUri(), " user=", params.getUser(),
                                             " request=", params.getRequest()));
    });
  }

 private:
  kj::Own<Session> session;
};

class ServerInit final : public TestInit::Server {
 public:
  explicit ServerInit(kj::Own<Session> session) : session(kj::mv(session)) {}

 protected:
  kj::Promise<void> construct(ConstructContext context) override {
    emit("construct threadMap=", context.getParams().hasThreadMap() ? "set" : "null");
    context.getResults().setThreadMap(kj::heap<ServerThreadMap>(kj::addRef(*session)));
    return kj::READY_NOW;
  }

  kj::Promise<void> makeEcho(MakeEchoContext context) override {
    return checkContext(*session, context.getParams().getContext()).then([this, context]() mutable {
      emit("makeEcho");
      context.getResults().setResult(kj::heap<ServerEcho>(kj::addRef(*session)));
    });
  }

  kj::Promise<void> makeRpc(MakeRpcContext context) override {
    return checkContext(*session, context.getParams().getContext()).then([this, context]() mutable {
      emit("makeRpc");
      context.getResults().setResult(kj::heap<ServerRpc>(kj::addRef(*session)));
    });
  }

  kj::Promise<void> makeCalculator(MakeCalculatorContext context) override {
    return checkContext(*session, context.getParams().getContext()).then([this, context]() mutable {
      emit("makeCalculator");
      context.getResults().setResult(kj::heap<ServerCalculator>(kj::addRef(*session)));
    });
  }

 private:
  kj::Own<Session> session;
};

// Mirror: returns the printer it is given. Calls the client pipelines on the result before the answer
// is back come to this side, and the reference implementation sends them back to the client (as tail
// calls: sendResultsTo.yourself, then Return.takeFromOtherQuestion).
class ServerMirror final : public Mirror::Server {
 protected:
  kj::Promise<void> reflect(ReflectContext context) override {
    emit("reflect");
    context.getResults().setResult(context.getParams().getPrinter());
    return kj::READY_NOW;
  }
};

// One served connection: its stream, network, RPC system and bootstrap (a TestInit unless given).
struct ServedConnection {
  ServedConnection(kj::Timer& timer, kj::Own<kj::AsyncIoStream> streamParam,
                   kj::Maybe<capnp::Capability::Client> bootstrap = nullptr)
      : timer(timer), stream(kj::mv(streamParam)), network(*stream, Side::SERVER) {
    KJ_IF_MAYBE(b, bootstrap) {
      rpc = kj::heap<capnp::RpcSystem<VatId>>(capnp::makeRpcServer(network, kj::mv(*b)));
    } else {
      rpc = kj::heap<capnp::RpcSystem<VatId>>(capnp::makeRpcServer(
          network, kj::heap<ServerInit>(kj::refcounted<Session>(timer))));
    }
  }

  // Resolves once the peer has gone and everything it held has been released.
  kj::Promise<void> run() {
    return network.onDisconnect().then([this]() {
      rpc = nullptr;  // releases every object the peer still held
      // Objects still referenced by cancelled calls are freed on the following turns.
      return timer.afterDelay(20 * kj::MILLISECONDS);
    }).then([]() { emit("disconnected"); });
  }

  kj::Timer& timer;
  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  kj::Own<capnp::RpcSystem<VatId>> rpc;
};

class LoggingErrorHandler final : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&& exception) override {
    std::fprintf(stderr, "mp_peer: connection failed: %s\n", exception.getDescription().cStr());
    std::fflush(stderr);
  }
};

int serveFd(int fd) {
  auto io = kj::setupAsyncIo();
  auto stream = io.lowLevelProvider->wrapSocketFd(fd, kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
  ServedConnection connection(io.provider->getTimer(), kj::mv(stream));
  connection.run().wait(io.waitScope);
  return 0;
}

int serveMirrorFd(int fd) {
  auto io = kj::setupAsyncIo();
  auto stream = io.lowLevelProvider->wrapSocketFd(fd, kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
  ServedConnection connection(io.provider->getTimer(), kj::mv(stream),
                              capnp::Capability::Client(kj::heap<ServerMirror>()));
  connection.run().wait(io.waitScope);
  return 0;
}

int serveUnix(kj::StringPtr path) {
  auto io = kj::setupAsyncIo();
  struct stat st;
  if (lstat(path.cStr(), &st) == 0) {  // a socket left by an earlier run; never anything else
    if (!S_ISSOCK(st.st_mode)) fail(kj::str(path, " exists and is not a socket"));
    if (unlink(path.cStr()) != 0) {
      fail(kj::str("cannot remove stale socket ", path, ": ", strerror(errno)));
    }
  }
  auto address = io.provider->getNetwork().parseAddress(kj::str("unix:", path)).wait(io.waitScope);
  auto listener = address->listen();
  emit("listening");

  kj::Timer& timer = io.provider->getTimer();
  LoggingErrorHandler errorHandler;
  kj::TaskSet connections(errorHandler);
  kj::Function<kj::Promise<void>()> acceptLoop;
  acceptLoop = [&]() -> kj::Promise<void> {
    return listener->accept().then([&](kj::Own<kj::AsyncIoStream>&& stream) {
      auto connection = kj::heap<ServedConnection>(timer, kj::mv(stream));
      auto& ref = *connection;
      connections.add(ref.run().attach(kj::mv(connection)));
      return acceptLoop();
    });
  };
  acceptLoop().wait(io.waitScope);  // only ends with an error
  return 1;
}

// ---------------------------------------------------------------------------------------------
// Client side: scenarios against a server that bootstraps a TestInit.

// The client's own thread map, handed to the server by construct. Its threads are client threads.
class ClientThreadMap final : public ThreadMap::Server {
 public:
  explicit ClientThreadMap(capnp::CapabilityServerSet<Thread>& threads) : threads(threads) {}

 protected:
  kj::Promise<void> makeThread(MakeThreadContext context) override {
    kj::StringPtr name = context.getParams().getName();
    emit("client makeThread ", name);
    context.getResults().setResult(threads.add(kj::heap<ThreadImpl>(kj::str("cpp-client/", name))));
    return kj::READY_NOW;
  }

  kj::Promise<void> makePool(MakePoolContext context) override {
    emit("client makePool ", context.getParams().getCount());
    return kj::READY_NOW;
  }

 private:
  capnp::CapabilityServerSet<Thread>& threads;
};

// The callback object of the `callback` scenario: checks that the server calls it on the client
// thread the client named as its callbackThread.
class ClientPrinter final : public Printer::Server {
 public:
  ClientPrinter(capnp::CapabilityServerSet<Thread>& threads, Thread::Server* callbackThread)
      : threads(threads), callbackThread(callbackThread) {}

 protected:
  kj::Promise<void> destroy(DestroyContext) override {
    emit("client destroy printer");
    return kj::READY_NOW;
  }

  kj::Promise<void> print(PrintContext context) override {
    auto params = context.getParams();
    emit("print ", params.getText());
    return isOwnThread(threads, params.getContext(), callbackThread).then([](bool ok) {
      emit("print-thread ", ok ? "ok" : "wrong");
    });
  }

 private:
  capnp::CapabilityServerSet<Thread>& threads;
  Thread::Server* callbackThread;
};

// The printer of the reflect scenarios: prints every text it gets, in the order the calls arrive.
// "sleep:<ms>" answers after that long, unless the call is canceled first ("print canceled").
class OrderPrinter final : public Printer::Server {
 public:
  OrderPrinter(kj::Timer& timer, kj::Own<kj::PromiseFulfiller<void>> sleeping,
               kj::Own<kj::PromiseFulfiller<void>> canceled, kj::Own<kj::PromiseFulfiller<void>> released)
      : timer(timer), sleeping(kj::mv(sleeping)), canceled(kj::mv(canceled)), released(kj::mv(released)) {}
  ~OrderPrinter() noexcept(false) {
    emit("released printer");
    released->fulfill();
  }

 protected:
  kj::Promise<void> print(PrintContext context) override {
    kj::String text = kj::heapString(context.getParams().getText());
    emit("print ", text);
    if (!text.startsWith("sleep:")) return kj::READY_NOW;
    long long ms = parseInteger(text.slice(strlen("sleep:")), "sleep milliseconds");
    context.allowCancellation();
    sleeping->fulfill();
    auto guard = kj::heap<CancelGuard>(*canceled);
    auto& ref = *guard;
    return timer.afterDelay(ms * kj::MILLISECONDS).then([&ref]() {
      ref.finished = true;
      emit("print woke");
    }).attach(kj::mv(guard));
  }

 private:
  // Notes a sleep that ended without waking: its call was canceled.
  struct CancelGuard {
    explicit CancelGuard(kj::PromiseFulfiller<void>& canceled) : canceled(canceled) {}
    ~CancelGuard() noexcept(false) {
      if (finished) return;
      emit("print canceled");
      canceled.fulfill();
    }
    kj::PromiseFulfiller<void>& canceled;
    bool finished = false;
  };

  kj::Timer& timer;
  kj::Own<kj::PromiseFulfiller<void>> sleeping;
  kj::Own<kj::PromiseFulfiller<void>> canceled;
  kj::Own<kj::PromiseFulfiller<void>> released;
};

class Client {
 public:
  Client(kj::AsyncIoContext& io, kj::Own<kj::AsyncIoStream> streamParam)
      : io(io),
        waitScope(io.waitScope),
        stream(kj::mv(streamParam)),
        network(*stream, Side::CLIENT),
        rpc(capnp::makeRpcClient(network)) {
    auto thread = kj::heap<ThreadImpl>(kj::str("cpp-client-callback"));
    callbackServer = thread.get();
    callbackThread = threads.add(kj::mv(thread));
  }

  // Returns the exit status.
  int run(kj::StringPtr scenario) {
    int status = 1;
    if (scenario == "echo") {
      status = echoScenario();
    } else if (scenario == "callback") {
      status = callbackScenario();
    } else if (scenario == "exception") {
      status = exceptionScenario();
    } else if (scenario == "disconnect") {
      status = disconnectScenario();
    } else if (scenario == "destroyed-call") {
      status = destroyedCallScenario();
    } else if (scenario == "bad-thread") {
      status = badThreadScenario();
    } else if (scenario == "rpc") {
      status = rpcScenario();
    } else if (scenario == "reflect") {
      status = reflectScenario();
    } else if (scenario == "reflect-cancel") {
      status = reflectCancelScenario();
    } else {
      fail(kj::str("unknown scenario '", scenario, "'"));
    }
    // Every capability of the scenario has been dropped by now; let the Release and Finish
    // messages reach the socket before the connection is closed.
    io.provider->getTimer().afterDelay(50 * kj::MILLISECONDS).wait(waitScope);
    return status;
  }

 private:
  struct Setup {
    TestInit::Client init;
    ThreadMap::Client threadMap;
    Thread::Client thread;
    bool finished = false;
  };

  TestInit::Client bootstrap() {
    capnp::MallocMessageBuilder message;
    auto vatId = message.initRoot<VatId>();
    vatId.setSide(Side::SERVER);
    return rpc.bootstrap(vatId).castAs<TestInit>();
  }

  void fillContext(Context::Builder context, Thread::Client& thread) {
    context.setThread(thread);
    context.setCallbackThread(callbackThread);
  }

  // construct and makeThread, pipelined: nothing is waited for.
  Setup startSetup() {
    auto init = bootstrap();
    auto construct = init.constructRequest();
    construct.setThreadMap(kj::heap<ClientThreadMap>(threads));
    auto constructed = construct.send();
    ThreadMap::Client threadMap = constructed.getThreadMap();
    auto makeThread = threadMap.makeThreadRequest();
    makeThread.setName("cpp-client");
    auto made = makeThread.send();
    Thread::Client thread = made.getResult();
    pending.add(constructed.ignoreResult());
    pending.add(made.ignoreResult());
    return Setup{kj::mv(init), kj::mv(threadMap), kj::mv(thread), false};
  }

  // The replies to the setup calls, then the thread's name.
  void finishSetup(Setup& setup) {
    if (setup.finished) return;
    setup.finished = true;
    for (auto& promise : pending) promise.wait(waitScope);
    pending.clear();
    auto name = setup.thread.getNameRequest().send().wait(waitScope);
    emit("thread ", name.getResult());
  }

  // Setup plus makeEcho, all three calls sent before any reply is awaited.
  Echo::Client makeEcho(Setup& setup) {
    auto request = setup.init.makeEchoRequest();
    fillContext(request.initContext(), setup.thread);
    auto made = request.send();
    Echo::Client echo = made.getResult();
    finishSetup(setup);
    made.wait(waitScope);
    return echo;
  }

  capnp::Request<Echo::EchoParams, Echo::EchoResults> echoRequest(
      Echo::Client& echo, Setup& setup, kj::StringPtr text) {
    auto request = echo.echoRequest();
    fillContext(request.initContext(), setup.thread);
    request.setEcho(text);
    return request;
  }

  kj::String callEcho(Echo::Client& echo, Setup& setup, kj::StringPtr text) {
    auto response = echoRequest(echo, setup, text).send().wait(waitScope);
    return kj::heapString(response.getResult());
  }

  void destroyEcho(Echo::Client& echo, Setup& setup) {
    auto request = echo.destroyRequest();
    fillContext(request.initContext(), setup.thread);
    request.send().wait(waitScope);
  }

  int echoScenario() {
    auto setup = startSetup();
    {
      auto echo = makeEcho(setup);
      for (kj::StringPtr text : {kj::StringPtr("hallo"), kj::StringPtr(""), kj::StringPtr("haha")}) {
        auto result = callEcho(echo, setup, text);
        if (result != text) fail(kj::str("echo returned '", result, "' for '", text, "'"));
        emit("echo ", result);
      }
      kj::String big = kj::heapString(100000);
      for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
      auto result = callEcho(echo, setup, big);
      if (result != big) fail("the 100000-byte echo came back altered");
      emit("echo-len ", result.size());
      destroyEcho(echo, setup);
      emit("destroyed");
    }  // the Echo is released here
    return 0;
  }

  int callbackScenario() {
    auto setup = startSetup();
    finishSetup(setup);
    auto makeRequest = setup.init.makeCalculatorRequest();
    fillContext(makeRequest.initContext(), setup.thread);
    Calculator::Client calculator = makeRequest.send().wait(waitScope).getResult();

    {
      auto solve = calculator.solveRequest();
      fillContext(solve.initContext(), setup.thread);
      solve.setTerms("1,2,3,4");
      solve.setPrinter(kj::heap<ClientPrinter>(threads, callbackServer));
      auto solved = solve.send().wait(waitScope);
      emit("solve ", solved.getResult());
    }

    {
      auto bump = calculator.bumpRequest();
      fillContext(bump.initContext(), setup.thread);
      auto value = bump.initValue();
      value.setFlag(true);
      value.setSmall(-5);
      value.setCount(4000000000u);
      value.setBig(-9000000000LL);
      value.setName("abc");
      value.setRatio(1.5);
      value.setOther(false);
      value.setMedium(-300);
      const capnp::byte blob[] = {1, 2, 3};
      value.setBlob(capnp::Data::Reader(blob, sizeof(blob)));
      value.setFraction(0.25f);
      auto bumped = bump.send().wait(waitScope);
      auto r = bumped.getResult();
      kj::Vector<long long> bytes;
      for (capnp::byte b : r.getBlob()) bytes.add(b);
      emit("bump flag=", r.getFlag() ? "true" : "false", " small=", static_cast<int>(r.getSmall()),
           " count=", r.getCount(), " big=", r.getBig(), " name=", r.getName(),
           " ratio=", r.getRatio(), " other=", r.getOther() ? "true" : "false",
           " medium=", r.getMedium(), " blob=", joinInts(bytes), " fraction=", r.getFraction());
    }

    {
      auto reverse = calculator.reverseRequest();
      fillContext(reverse.initContext(), setup.thread);
      auto values = reverse.initValues(3);
      for (uint i = 0; i < 3; ++i) values.set(i, static_cast<int32_t>(i + 1));
      auto reversed = reverse.send().wait(waitScope);
      kj::Vector<long long> result;
      for (int32_t v : reversed.getResult()) result.add(v);
      emit("reverse ", joinInts(result));
    }

    {
      auto destroy = calculator.destroyRequest();
      fillContext(destroy.initContext(), setup.thread);
      destroy.send().wait(waitScope);
      emit("destroyed");
    }
    return 0;
  }

  int exceptionScenario() {
    auto setup = startSetup();
    auto echo = makeEcho(setup);
    kj::Maybe<kj::String> unexpected;
    try {
      unexpected = callEcho(echo, setup, "throw:boom");
    } catch (const kj::Exception& e) {
      emit("exception ", e.getDescription());
    }
    KJ_IF_MAYBE(result, unexpected) {
      fail(kj::str("echo(\"throw:boom\") returned '", *result, "' instead of failing"));
    }
    auto result = callEcho(echo, setup, "after");
    emit("echo ", result);
    return 0;
  }

  int disconnectScenario() {
    auto setup = startSetup();
    auto echo = makeEcho(setup);
    auto sleeping = echoRequest(echo, setup, "sleep:10000").send();
    io.provider->getTimer().afterDelay(200 * kj::MILLISECONDS).wait(waitScope);
    emit("leaving");
    std::fflush(stdout);
    _exit(0);  // abruptly: no Release, no Finish, no orderly close
  }

  int destroyedCallScenario() {
    auto setup = startSetup();
    auto echo = makeEcho(setup);
    destroyEcho(echo, setup);
    emit("destroyed");
    try {
      auto result = callEcho(echo, setup, "x");
      emit("echo ", result);
      std::fprintf(stderr, "mp_peer: echo after destroy succeeded, expected an exception\n");
      return 1;
    } catch (const kj::Exception& e) {
      emit("exception ", e.getDescription());
    }
    return 0;
  }

  // Init.makeRpc, then Rpc.executeRpc of a JSON-RPC echo request; prints the reply text.
  int rpcScenario() {
    auto setup = startSetup();
    finishSetup(setup);
    auto make = setup.init.makeRpcRequest();
    fillContext(make.initContext(), setup.thread);
    Rpc::Client node = make.send().getResult();  // pipelined
    auto request = node.executeRpcRequest();
    fillContext(request.initContext(), setup.thread);
    request.setRequest("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"cpp\",1],\"id\":1}");
    request.setUri("/");
    request.setUser("cpp-peer");
    auto response = request.send().wait(waitScope);
    emit("rpc ", response.getResult());
    return 0;
  }

  kj::Promise<void> print(Printer::Client& printer, kj::StringPtr text) {
    auto request = printer.printRequest();
    request.setText(text);
    return request.send().ignoreResult();
  }

  // What the reflect scenarios wait for: the printer starting a sleep, seeing it canceled, being released.
  struct PrinterEvents {
    kj::PromiseFulfillerPair<void> sleeping = kj::newPromiseAndFulfiller<void>();
    kj::PromiseFulfillerPair<void> canceled = kj::newPromiseAndFulfiller<void>();
    kj::PromiseFulfillerPair<void> released = kj::newPromiseAndFulfiller<void>();
  };

  Printer::Client newOrderPrinter(PrinterEvents& events) {
    return kj::heap<OrderPrinter>(io.provider->getTimer(), kj::mv(events.sleeping.fulfiller),
                                  kj::mv(events.canceled.fulfiller), kj::mv(events.released.fulfiller));
  }

  void waitFor(kj::Promise<void>&& promise) {
    io.provider->getTimer().timeoutAfter(10 * kj::SECONDS, kj::mv(promise)).wait(waitScope);
  }

  // Once everything is dropped: the server released our printer ("released printer") and everything
  // else ("released", printed once the Release reached us), and we stay connected until it closes, so
  // that it can check its tables with the connection still up.
  int endReflectScenario(PrinterEvents& events) {
    waitFor(kj::mv(events.released.promise));
    emit("released");
    waitFor(network.onDisconnect());
    return 0;
  }

  // Mirror.reflect(our printer), three prints pipelined on its result before the answer is back (they
  // go to the server, which sends them back to us), then three more once the result resolved to our
  // own printer (held by the embargo until the Disembargo came back). The printer prints all six in order.
  int reflectScenario() {
    PrinterEvents events;
    {
      auto mirror = bootstrapAs<Mirror>();
      auto request = mirror.reflectRequest();
      request.setPrinter(newOrderPrinter(events));
      auto reflected = request.send();
      Printer::Client result = reflected.getResult();
      kj::Vector<kj::Promise<void>> calls;
      for (int i = 1; i <= 3; ++i) calls.add(print(result, kj::str("before ", i)));
      reflected.wait(waitScope);
      result.whenResolved().wait(waitScope);
      emit("resolved");
      for (int i = 1; i <= 3; ++i) calls.add(print(result, kj::str("after ", i)));
      kj::joinPromises(calls.releaseAsArray()).wait(waitScope);
      emit("done");
    }
    return endReflectScenario(events);
  }

  // A sleeping print pipelined on Mirror.reflect's result, so sent back to us by the server, then
  // dropped: the server must cancel the call it sent back (our printer sees it canceled).
  int reflectCancelScenario() {
    PrinterEvents events;
    {
      auto mirror = bootstrapAs<Mirror>();
      auto request = mirror.reflectRequest();
      request.setPrinter(newOrderPrinter(events));
      auto reflected = request.send();
      Printer::Client result = reflected.getResult();
      kj::Maybe<kj::Promise<void>> call = print(result, "sleep:20000");
      waitFor(kj::mv(events.sleeping.promise));
      emit("canceling");
      call = nullptr;  // the Finish goes out
      waitFor(kj::mv(events.canceled.promise));
      emit("done");
    }
    return endReflectScenario(events);
  }

  template <typename T>
  typename T::Client bootstrapAs() {
    capnp::MallocMessageBuilder message;
    auto vatId = message.initRoot<VatId>();
    vatId.setSide(Side::SERVER);
    return rpc.bootstrap(vatId).castAs<T>();
  }

  // makeEcho naming a thread that is not one of the server's (the client's own callback thread):
  // the server must refuse it. Then the same call with the server's thread works.
  int badThreadScenario() {
    auto setup = startSetup();
    finishSetup(setup);
    kj::Maybe<Echo::Client> unexpected;
    try {
      auto request = setup.init.makeEchoRequest();
      fillContext(request.initContext(), callbackThread);
      unexpected = request.send().wait(waitScope).getResult();
    } catch (const kj::Exception& e) {
      emit("exception ", e.getDescription());
    }
    if (unexpected != nullptr) fail("makeEcho accepted a thread that is not the server's");
    auto echo = makeEcho(setup);
    emit("echo ", callEcho(echo, setup, "ok"));
    return 0;
  }

  kj::AsyncIoContext& io;
  kj::WaitScope& waitScope;
  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<VatId> rpc;
  capnp::CapabilityServerSet<Thread> threads;  // the client's own threads
  Thread::Server* callbackServer = nullptr;
  Thread::Client callbackThread = nullptr;
  kj::Vector<kj::Promise<void>> pending;
};

int clientFd(int fd, kj::StringPtr scenario) {
  auto io = kj::setupAsyncIo();
  auto stream = io.lowLevelProvider->wrapSocketFd(fd, kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
  Client client(io, kj::mv(stream));
  return client.run(scenario);
}

int clientUnix(kj::StringPtr path, kj::StringPtr scenario) {
  auto io = kj::setupAsyncIo();
  auto address = io.provider->getNetwork().parseAddress(kj::str("unix:", path)).wait(io.waitScope);
  auto stream = address->connect().wait(io.waitScope);
  Client client(io, kj::mv(stream));
  return client.run(scenario);
}

// ---------------------------------------------------------------------------------------------
// Benchmark: plain Echo over a socketpair, child process serving, parent calling.

class BenchEcho final : public Echo::Server {
 protected:
  kj::Promise<void> echo(EchoContext context) override {
    context.getResults().setResult(context.getParams().getEcho());
    return kj::READY_NOW;
  }
};

[[noreturn]] void benchChild(int fd) {
  int status = 0;
  try {
    auto io = kj::setupAsyncIo();
    auto stream =
        io.lowLevelProvider->wrapSocketFd(fd, kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
    capnp::TwoPartyVatNetwork network(*stream, Side::SERVER);
    auto rpc = capnp::makeRpcServer(network, kj::heap<BenchEcho>());
    network.onDisconnect().wait(io.waitScope);
  } catch (const kj::Exception& e) {
    std::fprintf(stderr, "mp_peer bench server: %s\n", e.getDescription().cStr());
    status = 1;
  }
  std::fflush(stderr);
  _exit(status);
}

using Clock = std::chrono::steady_clock;

struct BenchRun {
  BenchRun(Echo::Client echo, kj::String payload) : echo(kj::mv(echo)), payload(kj::mv(payload)) {}

  Echo::Client echo;
  kj::String payload;
  size_t total = 0;
  size_t started = 0;
  bool record = false;
  std::vector<double> samples;  // microseconds per call

  // One of the `inflight` call chains: each finished call starts the next one.
  kj::Promise<void> chain() {
    if (started >= total) return kj::READY_NOW;
    ++started;
    auto request = echo.echoRequest();
    request.setEcho(payload);
    auto begin = Clock::now();
    return request.send().then([this, begin](capnp::Response<Echo::EchoResults>&& response) {
      auto end = Clock::now();
      if (response.getResult().size() != payload.size()) fail("bench echo came back altered");
      if (record) samples.push_back(std::chrono::duration<double, std::micro>(end - begin).count());
      return chain();
    });
  }

  // Runs `calls` calls with `inflight` outstanding; returns the elapsed seconds.
  double phase(kj::WaitScope& waitScope, size_t calls, size_t inflight, bool recordSamples) {
    total = calls;
    started = 0;
    record = recordSamples;
    auto begin = Clock::now();
    kj::Vector<kj::Promise<void>> chains;
    for (size_t i = 0; i < inflight; ++i) chains.add(chain());
    kj::joinPromises(chains.releaseAsArray()).wait(waitScope);
    return std::chrono::duration<double>(Clock::now() - begin).count();
  }
};

int bench(long long iterations, long long size, long long inflight) {
  if (iterations < 1) fail("iterations must be at least 1");
  if (size < 0) fail("size must not be negative");
  if (inflight < 1) fail("inflight must be at least 1");

  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    fail(kj::str("socketpair: ", strerror(errno)));
  }
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) fail(kj::str("fork: ", strerror(errno)));
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the parent
    if (getppid() != parent) _exit(1);
    close(fds[0]);
    benchChild(fds[1]);
  }
  close(fds[1]);

  double medianUs = 0;
  double callsPerSec = 0;
  {
    auto io = kj::setupAsyncIo();
    auto stream =
        io.lowLevelProvider->wrapSocketFd(fds[0], kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
    capnp::TwoPartyVatNetwork network(*stream, Side::CLIENT);
    auto rpc = capnp::makeRpcClient(network);
    capnp::MallocMessageBuilder message;
    auto vatId = message.initRoot<VatId>();
    vatId.setSide(Side::SERVER);

    BenchRun run(rpc.bootstrap(vatId).castAs<Echo>(), kj::heapString(static_cast<size_t>(size)));
    for (size_t i = 0; i < run.payload.size(); ++i) run.payload[i] = 'x';
    size_t warmup = std::max<size_t>(1, static_cast<size_t>(iterations) / 10);
    run.phase(io.waitScope, warmup, static_cast<size_t>(inflight), false);
    run.samples.reserve(static_cast<size_t>(iterations));
    double seconds = run.phase(io.waitScope, static_cast<size_t>(iterations),
                               static_cast<size_t>(inflight), true);
    std::sort(run.samples.begin(), run.samples.end());
    size_t n = run.samples.size();
    medianUs = n % 2 == 1 ? run.samples[n / 2] : (run.samples[n / 2 - 1] + run.samples[n / 2]) / 2;
    callsPerSec = static_cast<double>(iterations) / seconds;
  }  // closes the socket: the child sees the disconnect and exits

  int status = 0;
  bool reaped = false;
  for (int i = 0; i < 500 && !reaped; ++i) {  // up to 5 s
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) {
      reaped = true;
    } else {
      usleep(10000);
    }
  }
  if (!reaped) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    fail("bench server process did not exit; killed it");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("bench server process failed");

  std::printf("median_us=%.1f calls_per_sec=%.0f\n", medianUs, callsPerSec);
  std::fflush(stdout);
  return 0;
}

// ---------------------------------------------------------------------------------------------

int usage() {
  std::fprintf(stderr,
               "usage: mp_peer serve-fd <fd>\n"
               "       mp_peer serve-unix <path>\n"
               "       mp_peer serve-mirror-fd <fd>\n"
               "       mp_peer client-fd <fd> <scenario>\n"
               "       mp_peer client-unix <path> <scenario>\n"
               "       mp_peer bench <iterations> <size> <inflight>\n"
               "scenarios: echo, callback, exception, disconnect, destroyed-call, bad-thread, rpc, reflect,\n"
               "           reflect-cancel\n");
  return 2;
}

bool isScenario(kj::StringPtr name) {
  for (kj::StringPtr known :
       {"echo", "callback", "exception", "disconnect", "destroyed-call", "bad-thread", "rpc", "reflect",
        "reflect-cancel"}) {
    if (name == known) return true;
  }
  return false;
}

int run(int argc, char** argv) {
  if (argc < 2) return usage();
  kj::StringPtr mode = argv[1];
  if ((mode == "client-fd" || mode == "client-unix") && argc == 4 && !isScenario(argv[3])) {
    std::fprintf(stderr, "mp_peer: unknown scenario '%s'\n", argv[3]);
    return usage();
  }
  if (mode == "serve-fd" && argc == 3) return serveFd(parseFd(argv[2]));
  if (mode == "serve-unix" && argc == 3) return serveUnix(argv[2]);
  if (mode == "serve-mirror-fd" && argc == 3) return serveMirrorFd(parseFd(argv[2]));
  if (mode == "client-fd" && argc == 4) return clientFd(parseFd(argv[2]), argv[3]);
  if (mode == "client-unix" && argc == 4) return clientUnix(argv[2], argv[3]);
  if (mode == "bench" && argc == 5) {
    return bench(parseInteger(argv[2], "iterations"), parseInteger(argv[3], "size"),
                 parseInteger(argv[4], "inflight"));
  }
  return usage();
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a vanished peer is an error to report, not a signal to die of
  try {
    return run(argc, argv);
  } catch (const kj::Exception& e) {
    std::fprintf(stderr, "mp_peer: error: %s\n", e.getDescription().cStr());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp_peer: error: %s\n", e.what());
    return 1;
  }
}
