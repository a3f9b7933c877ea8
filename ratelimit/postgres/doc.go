// Package postgres is a [ratelimit.Store] in a PostgreSQL table (Better
// Auth's "rateLimit", its storage: "database" option), for deployments
// that run several instances on one database and want a rate limit to
// hold across them.
//
// Usage, beside the adapter of package storage/postgres (its pool and
// schema):
//
//	store := postgres.New(db, postgres.Options{Retention: 10 * time.Minute}) // db: *storagepg.Adapter
//	defer store.Close()
//	if err := store.Migrate(ctx); err != nil { // or on the first Hit
//		return err
//	}
//	cfg.RateLimit.Store = ratelimit.NewSplitStore(store, 20) // auth.Config
//
// Under a naming (Better Auth's modelName, fields and usePlural, as the
// schema's tables have it through auth.Config.Naming), give the store the
// same storage.Naming: it takes the entries for "rateLimit".
//
//	store, err := postgres.NewFromPool(db.Pool(), db.SchemaName(), postgres.Options{Naming: cfg.Naming})
//
// or over a pool the caller owns:
//
//	store, err := postgres.NewFromPool(pool, "auth", postgres.Options{})
//
// Each Hit is one statement (an upsert that applies Better Auth's
// algorithm on the locked row), on a small pool of the store's own; its
// writes commit asynchronously, a table it creates is UNLOGGED, and
// refusals are answered from memory until their window ends (see
// [Store]).
package postgres
