package dev.bitcoinmp.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Command line and bitcoin.conf as Core reads them (RPC-FACTS section 5). */
class SettingsTest {

    @TempDir
    Path dir;

    private Settings load(String... args) {
        return Settings.load(args, Options.node(true));
    }

    private String error(String... args) {
        return assertThrows(StartupError.class, () -> load(args)).getMessage();
    }

    @Test
    void chainsDirectoriesAndPorts() {
        Settings main = load("-datadir=" + dir);
        assertEquals(Settings.Chain.MAIN, main.chain());
        assertEquals(dir, main.networkDataDir());
        assertEquals(8332, main.rpcPort());
        Settings regtest = load("-datadir=" + dir, "-regtest");
        assertEquals(dir.resolve("regtest"), regtest.networkDataDir());
        assertEquals(18443, regtest.rpcPort());
        assertEquals(Settings.Chain.TESTNET3, load("-datadir=" + dir, "-testnet").chain());
        assertEquals(dir.resolve("testnet3"), load("-datadir=" + dir, "-chain=test").networkDataDir());
        assertEquals(48332, load("-datadir=" + dir, "-testnet4").rpcPort());
        assertEquals(38332, load("-datadir=" + dir, "-chain=signet").rpcPort());
        assertEquals(12345, load("-datadir=" + dir, "-regtest", "-rpcport=12345").rpcPort());
        assertTrue(error("-datadir=" + dir, "-regtest", "-testnet").startsWith("Error: Invalid combination of -regtest"));
        assertEquals("Error: Invalid chain name 'moon'.", error("-datadir=" + dir, "-chain=moon"));
    }

    @Test
    void unknownOptionsAndMissingDatadirAreErrors() {
        assertEquals("Error: Invalid parameter -foo", error("-datadir=" + dir, "-foo"));
        assertEquals("Error: Invalid parameter -nofoo", error("-datadir=" + dir, "-nofoo"));
        assertEquals("Error: Specified data directory \"" + dir.resolve("missing") + "\" does not exist.",
                error("-datadir=" + dir.resolve("missing")));
        assertTrue(error("-datadir=" + dir, "regtest").contains("unexpected token 'regtest'"));
        assertEquals("Error: Invalid parameter -ipcbind", assertThrows(StartupError.class,
                () -> Settings.load(new String[] {"-datadir=" + dir, "-ipcbind=unix"}, Options.node(false))).getMessage());
    }

    @Test
    void negationAndBooleans() {
        assertFalse(load("-datadir=" + dir, "-noprinttoconsole").getBool("printtoconsole", true));
        assertTrue(load("-datadir=" + dir, "-noprinttoconsole=0").getBool("printtoconsole", false));
        assertTrue(load("-datadir=" + dir, "-printtoconsole").getBool("printtoconsole", false));
        assertTrue(load("-datadir=" + dir).getBool("printtoconsole", true));
        Settings debug = load("-datadir=" + dir, "-debug=ipc", "-debug=rpc");
        assertTrue(debug.debugCategory("ipc"));
        assertTrue(debug.debugCategory("rpc"));
        assertFalse(debug.debugCategory("http"));
        assertTrue(load("-datadir=" + dir, "-debug").debugCategory("http"));
        assertFalse(load("-datadir=" + dir).debugCategory("ipc"));
    }

    @Test
    void configFileSectionsAndPrecedence() throws Exception {
        Files.writeString(dir.resolve("bitcoin.conf"), """
                # a comment
                regtest=1
                rpcuser=top   # trailing comment
                debug=ipc
                [regtest]
                rpcport=20000
                rpcpassword=secret
                [test]
                rpcport=30000
                """);
        Settings settings = load("-datadir=" + dir);
        assertEquals(Settings.Chain.REGTEST, settings.chain());
        assertEquals(20000, settings.rpcPort());
        assertEquals("top", settings.get("rpcuser", null));
        assertEquals("secret", settings.get("rpcpassword", null));
        assertTrue(settings.debugCategory("ipc"));
        // The command line wins over the file.
        assertEquals(20001, load("-datadir=" + dir, "-rpcport=20001").rpcPort());
        assertEquals("cli", load("-datadir=" + dir, "-rpcuser=cli").get("rpcuser", null));
        assertEquals(List.of("ipc"), settings.all("debug"));
    }

    @Test
    void networkOnlyOptionsOutsideTheirSectionAreRefused() throws Exception {
        Files.writeString(dir.resolve("bitcoin.conf"), "rpcport=20000\n");
        assertEquals(20000, load("-datadir=" + dir).rpcPort(), "applies on main");
        assertEquals("Error: Config setting for -rpcport only applied on regtest network when in [regtest] section.",
                error("-datadir=" + dir, "-regtest"));
        Files.writeString(dir.resolve("bitcoin.conf"), "regtest.rpcport=20002\n");
        assertEquals(20002, load("-datadir=" + dir, "-regtest").rpcPort());
    }

    @Test
    void configErrors() throws Exception {
        Files.writeString(dir.resolve("bitcoin.conf"), "nosuchoption=1\n");
        assertEquals("Error: Invalid parameter -nosuchoption", error("-datadir=" + dir));
        Files.writeString(dir.resolve("other.conf"), "garbage line\n");
        assertTrue(error("-datadir=" + dir, "-conf=other.conf").contains("parse error on line 1"));
        assertTrue(error("-datadir=" + dir, "-conf=absent.conf").contains("could not be opened"));
        assertEquals(dir, load("-datadir=" + dir, "-noconf").baseDataDir());
    }

    @Test
    void helpListsEveryOption() {
        String help = Options.node(true).helpText("bitcoin-node");
        for (String option : List.of("-datadir=<dir>", "-regtest", "-conf=<file>", "-rpcauth=<userpw>", "-rpcworkqueue=<n>",
                "-debug=<category>", "-printtoconsole", "-pid=<file>", "-ipcbind=<address>", "-ipcmaxconnections=<n>", "-debuglogfile=<file>")) {
            assertTrue(help.contains("\n  " + option + "\n"), option);
        }
        assertFalse(Options.node(false).helpText("bitcoind").contains("-ipcbind"));
        assertFalse(Options.node(false).helpText("bitcoind").contains("-ipcmaxconnections"));
    }
}
