package aisle;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.List;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

/**
 * A single-node OpenSearch on loopback, from the server's classes and its modules on the
 * classpath (loaded as classpath plugins, as OpenSearch's own test framework loads them).
 *
 * <p>{@code java -cp ... aisle.Launcher <home> <http port>}: data under {@code <home>/data},
 * HTTP on 127.0.0.1 only, single-node discovery. Prints one JSON line when it answers, and
 * closes the node on SIGTERM (stack.sh stops it by its PID).
 *
 * <p>What a distribution adds and this does not: the security manager and the bootstrap
 * checks (a production node's; a loopback node skips them), and plugins beyond these three
 * modules (the adapter needs none).
 */
public final class Launcher {
  /** Node's constructor that takes classpath plugins is protected: a subclass opens it. */
  static final class LocalNode extends Node {
    LocalNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
      super(environment, plugins, true);
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: Launcher <home> <http port>");
      System.exit(2);
    }
    Path home = Paths.get(args[0]).toAbsolutePath();
    String port = args[1];
    for (String dir : List.of("config", "data", "logs")) {
      Files.createDirectories(home.resolve(dir));
    }
    Settings settings =
        Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "aisle-local")
            .put("node.name", "aisle-local")
            .put("network.host", "127.0.0.1")
            .put("http.port", port)
            .put("transport.port", "9300-9399")
            .put("discovery.type", "single-node")
            // A developer's nearly full disk must not stop shards from being allocated.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .build();
    List<Class<? extends Plugin>> plugins =
        List.of(
            org.opensearch.transport.Netty4Plugin.class,
            org.opensearch.painless.PainlessPlugin.class,
            org.opensearch.analysis.common.CommonAnalysisPlugin.class);
    Node node = new LocalNode(new Environment(settings, home.resolve("config")), plugins);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    node.close();
                  } catch (Exception e) {
                    e.printStackTrace();
                  }
                }));
    node.start();
    System.out.println("{\"opensearch\":\"ready\",\"port\":" + port + "}");
    Thread.currentThread().join();
  }
}
