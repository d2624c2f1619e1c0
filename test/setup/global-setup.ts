// Replaced by the database template set-up once storage lands.
export default async function setup(): Promise<void> {}
