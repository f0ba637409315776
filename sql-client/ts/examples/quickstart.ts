import { createClient, ConstraintError, Real } from "@dosql/sql-client";

export async function quickstart(url: string, token: string) {
  const db = createClient({ url, token }); // e.g. http://127.0.0.1:7878/db/shop

  await db.execute(
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, price REAL, stock INTEGER)",
  );
  const { lastInsertRowid } = await db.execute(
    "INSERT INTO items (name, price, stock) VALUES (?, ?, ?)",
    ["pen", new Real(2), 10], // Real: bind 2 as REAL, not INTEGER
  );
  await db.execute("INSERT INTO items (name, price, stock) VALUES (:name, :price, :stock)", {
    name: "ink",
    price: 4.5,
    stock: 9007199254740993n, // beyond 2^53: a bigint, exact on the wire
  });

  const { rows } = await db.query<{ name: string; price: number; stock: number | bigint }>(
    "SELECT name, price, stock FROM items ORDER BY id",
  );

  // Transactions run on a connection of their own and are retried on CONFLICT.
  await db.transaction(async (tx) => {
    await tx.execute("UPDATE items SET stock = stock - 1 WHERE name = ?", ["pen"]);
    await tx.execute("UPDATE items SET stock = stock + 1 WHERE name = ?", ["ink"]);
  });

  let duplicate = false;
  try {
    await db.execute("INSERT INTO items (name) VALUES ('pen')");
  } catch (e) {
    duplicate = e instanceof ConstraintError && e.code === "CONSTRAINT";
  }

  db.close();
  return { lastInsertRowid, rows, duplicate };
}
