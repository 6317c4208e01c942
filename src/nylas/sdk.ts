import NylasImport from 'nylas';

/**
 * The `nylas` package ships ESM code under CommonJS-typed declarations, so
 * TypeScript sees the default import as the module, while Node hands us the
 * class. This is the one place that bridges the two.
 */
type NylasClass = typeof NylasImport.default;
export type NylasClient = InstanceType<NylasClass>;
export type NylasConfig = ConstructorParameters<NylasClass>[0];

const NylasCtor: NylasClass = ((NylasImport as unknown as { default?: NylasClass }).default ?? NylasImport) as NylasClass;

export function createNylasClient(config: NylasConfig): NylasClient {
  return new NylasCtor(config);
}
