import java.nio.file.Files;
import java.nio.file.Path;
import java.util.spi.ToolProvider;

/**
 * Runs the JDK's own `jar` tool once per line of a file (arguments separated by tabs), in
 * one JVM: building dozens of test archives costs one JVM start instead of one each.
 * Usage: java JarBatch.java commands.tsv
 */
public class JarBatch {
  public static void main(String[] args) throws Exception {
    ToolProvider jar = ToolProvider.findFirst("jar").orElseThrow();
    for (String line : Files.readAllLines(Path.of(args[0]))) {
      if (line.isEmpty()) continue;
      int rc = jar.run(System.out, System.err, line.split("\t"));
      if (rc != 0) {
        System.err.println("jar failed (" + rc + "): " + line.replace('\t', ' '));
        System.exit(rc);
      }
    }
  }
}
