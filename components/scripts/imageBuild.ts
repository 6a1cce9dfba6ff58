import { shellQuote } from "../shell";

/**
 * The script that builds one service's image where `pulumi up` runs (the docker CLI and an
 * engine there: Docker Desktop, a CI runner's engine, or DOCKER_HOST), pushes it, and prints
 * the pushed image by digest (`<repository>@sha256:...`), which the stack then runs.
 *
 * The tag is the build's content hash, so a rebuild of unchanged inputs pushes nothing new.
 * A login (the password arrives on stdin) goes into a private client config that is removed
 * when the script ends, so no credential stays on the machine.
 */
export interface ImageBuildScriptArgs {
    /** The build context folder (absolute). */
    readonly context: string;
    /** The Dockerfile, absolute or relative to the context. */
    readonly dockerfile: string;
    readonly buildArgs: Readonly<Record<string, string>>;
    readonly target?: string;
    /** `<registry>/<path>` without tag. */
    readonly repository: string;
    /** The tag to push: the content hash of the build's inputs. */
    readonly tag: string;
    /** When set, `docker login` to the repository's registry as this user, password on stdin. */
    readonly loginUsername?: string;
    /** The platform to build for (the nodes' architecture), e.g. linux/amd64. */
    readonly platform?: string;
}

export function renderImageBuild(args: ImageBuildScriptArgs): string {
    if (!/^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+$/.test(args.repository)) {
        throw new Error(`repository must be <registry>/<path> in lower case; got ${JSON.stringify(args.repository)}`);
    }
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(args.tag)) {
        throw new Error(`tag must be a Docker tag (letters, digits, '_', '.', '-'); got ${JSON.stringify(args.tag)}`);
    }
    const registry = args.repository.split("/")[0];
    const ref = `${args.repository}:${args.tag}`;
    const build = [
        "docker",
        ...(args.loginUsername !== undefined ? ['--config "$cfg"'] : []),
        "build",
        "--quiet",
        ...(args.platform ? [`--platform ${shellQuote(args.platform)}`] : []),
        `--file ${shellQuote(args.dockerfile)}`,
        ...Object.keys(args.buildArgs)
            .sort()
            .map((k) => `--build-arg ${shellQuote(`${k}=${args.buildArgs[k]}`)}`),
        ...(args.target ? [`--target ${shellQuote(args.target)}`] : []),
        `--tag ${shellQuote(ref)}`,
        shellQuote(args.context),
    ].join(" ");
    const dockerCfg = args.loginUsername !== undefined ? ' --config "$cfg"' : "";
    return [
        `# pulumi-swarm: build and push ${ref}`,
        "set -eu",
        ...(args.loginUsername !== undefined
            ? [
                  "umask 077",
                  "cfg=$(mktemp -d)",
                  "trap 'rm -rf \"$cfg\"' EXIT",
                  `docker --config "$cfg" login --username ${shellQuote(args.loginUsername)} --password-stdin ${shellQuote(registry)} >/dev/null`,
              ]
            : []),
        `${build} >/dev/null`,
        `docker${dockerCfg} push ${shellQuote(ref)} >&2`,
        `digest=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' ${shellQuote(ref)} | grep -F ${shellQuote(args.repository + "@")} | head -n 1)`,
        'if [ -z "$digest" ]; then',
        `  echo "pulumi-swarm: pushed ${ref} but the engine reports no digest for it" >&2`,
        "  exit 1",
        "fi",
        'printf \'%s\\n\' "$digest"',
        "",
    ].join("\n");
}

/** The pushed image (last line of the build's stdout), checked. */
export function parseImageBuildOutput(stdout: string, repository: string): string {
    const line = stdout.trim().split("\n").pop() ?? "";
    if (!line.startsWith(`${repository}@sha256:`) || !/@sha256:[0-9a-f]{64}$/.test(line)) {
        throw new Error(`the image build for ${repository} printed no digest; it printed: ${JSON.stringify(stdout.slice(-300))}`);
    }
    return line;
}
