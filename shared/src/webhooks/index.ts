export * from './address-policy.ts';
export * from './callback-url.ts';
export * from './signature.ts';
export * from './post.ts';
