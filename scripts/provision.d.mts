/** Types of `provision.mjs`, for the tests that import it. */
export declare const SYSTEM_PACKAGES: readonly string[];
export declare function parseVersion(text: string): [number, number, number];
export declare function satisfies(version: string, range: string): boolean;
export declare function missingPackages(env: NodeJS.ProcessEnv): { missing: string[]; dpkg: boolean };
export declare function aptRunner(env: NodeJS.ProcessEnv): string[] | undefined;
export declare function provision(options: {
  env?: NodeJS.ProcessEnv;
  nodeVersion?: string;
  engines?: string;
  check?: boolean;
  log?: (line: string) => void;
}): number;
