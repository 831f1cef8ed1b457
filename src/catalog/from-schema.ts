/**
 * The TypeScript type of the values a JSON Schema admits, for the keywords the catalog schema uses
 * (type, properties, required, items, additionalProperties, anyOf, enum); the others (pattern,
 * minimum, minLength…) narrow values within a type and change nothing here. schema.ts declares the
 * schema `as const`, so the raw catalog types follow from it and cannot disagree with it.
 */
type Flat<T> = { [K in keyof T]: T[K] } & {};

type ObjectOf<P, R> = Flat<{ -readonly [K in keyof P & R]: FromSchema<P[K]> } & { -readonly [K in Exclude<keyof P, R>]?: FromSchema<P[K]> }>;

export type FromSchema<S> = S extends { readonly anyOf: ReadonlyArray<infer B> }
  ? FromSchema<B>
  : S extends { readonly enum: ReadonlyArray<infer E> }
    ? E
    : S extends { readonly type: 'string' }
      ? string
      : S extends { readonly type: 'integer' | 'number' }
        ? number
        : S extends { readonly type: 'boolean' }
          ? boolean
          : S extends { readonly type: 'array'; readonly items: infer I }
            ? Array<FromSchema<I>>
            : S extends { readonly type: 'object'; readonly properties: infer P }
              ? ObjectOf<P, S extends { readonly required: ReadonlyArray<infer R> } ? R : never>
              : S extends { readonly type: 'object'; readonly additionalProperties: infer A }
                ? Record<string, FromSchema<A>>
                : unknown;
