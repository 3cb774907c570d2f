//! The requests of the sock-shop purchase flow: which service serves each operation, how long
//! its own work takes, what it answers and which dependencies it calls, in order.

/// A step a handler performs after its own work starts.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// An HTTP call to another operation.
    Http(Op),
    /// A database or cache operation: (service, collection/table, is a write).
    Store(&'static str, &'static str, bool),
    /// Publish a shipment to RabbitMQ.
    Publish,
}

/// An HTTP operation served by a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// front-end: GET /
    FrontHome,
    /// front-end: GET /catalogue
    FrontCatalogue,
    /// front-end: GET /detail.html + item
    FrontItem,
    /// front-end: GET /login
    FrontLogin,
    /// front-end: POST /cart
    FrontAddToCart,
    /// front-end: GET /cart
    FrontCart,
    /// front-end: POST /orders
    FrontCheckout,
    /// front-end: GET /orders
    FrontOrders,
    /// catalogue: GET /catalogue
    CatalogueList,
    /// catalogue: GET /catalogue/{id}
    CatalogueGet,
    /// carts: GET /carts/{id}/items
    CartsGet,
    /// carts: POST /carts/{id}/items
    CartsAdd,
    /// carts: DELETE /carts/{id}
    CartsDelete,
    /// orders: POST /orders
    OrdersCreate,
    /// orders: GET /orders/search/customerId
    OrdersSearch,
    /// user: GET /login
    UserLogin,
    /// user: GET /customers/{id}
    UserCustomer,
    /// user: GET /addresses/{id}
    UserAddress,
    /// user: GET /cards/{id}
    UserCard,
    /// payment: POST /paymentAuth
    PaymentAuth,
    /// shipping: POST /shipping
    ShippingCreate,
}

/// Static facts of an operation.
#[derive(Debug, Clone, Copy)]
pub struct OpSpec {
    /// Serving service.
    pub service: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// Request path.
    pub path: &'static str,
    /// Go kit method name / handler name.
    pub handler: &'static str,
    /// Median own processing time, ms.
    pub median_ms: f64,
    /// Response size, bytes.
    pub response_bytes: u64,
    /// Dependencies called, in order.
    pub steps: &'static [Step],
    /// Whether the front-end needs the session store for it (else a session failure only delays).
    pub needs_session: bool,
}

const SESSION_READ: Step = Step::Store("session-db", "session", false);
const SESSION_WRITE: Step = Step::Store("session-db", "session", true);

impl Op {
    /// The operation's facts.
    #[must_use]
    pub const fn spec(self) -> OpSpec {
        #[allow(clippy::too_many_arguments)]
        const fn op(
            service: &'static str,
            method: &'static str,
            path: &'static str,
            handler: &'static str,
            median_ms: f64,
            response_bytes: u64,
            steps: &'static [Step],
            needs_session: bool,
        ) -> OpSpec {
            OpSpec {
                service,
                method,
                path,
                handler,
                median_ms,
                response_bytes,
                steps,
                needs_session,
            }
        }
        match self {
            Self::FrontHome => op(
                "front-end",
                "GET",
                "/",
                "index",
                2.0,
                8_600,
                &[SESSION_READ],
                false,
            ),
            Self::FrontCatalogue => op(
                "front-end",
                "GET",
                "/catalogue?size=5",
                "catalogue",
                2.5,
                2_900,
                &[SESSION_READ, Step::Http(Op::CatalogueList)],
                false,
            ),
            Self::FrontItem => op(
                "front-end",
                "GET",
                "/catalogue/3395a43e-2d88-40de-b95f-e00e1502085b",
                "item",
                2.0,
                480,
                &[SESSION_READ, Step::Http(Op::CatalogueGet)],
                false,
            ),
            Self::FrontLogin => op(
                "front-end",
                "GET",
                "/login",
                "login",
                3.0,
                200,
                &[SESSION_READ, Step::Http(Op::UserLogin), SESSION_WRITE],
                true,
            ),
            Self::FrontAddToCart => op(
                "front-end",
                "POST",
                "/cart",
                "addToCart",
                3.0,
                150,
                &[
                    SESSION_READ,
                    Step::Http(Op::CatalogueGet),
                    Step::Http(Op::CartsAdd),
                ],
                true,
            ),
            Self::FrontCart => op(
                "front-end",
                "GET",
                "/cart",
                "cart",
                2.0,
                1_100,
                &[SESSION_READ, Step::Http(Op::CartsGet)],
                true,
            ),
            Self::FrontCheckout => op(
                "front-end",
                "POST",
                "/orders",
                "checkout",
                4.0,
                1_400,
                &[
                    SESSION_READ,
                    Step::Http(Op::OrdersCreate),
                    Step::Http(Op::CartsDelete),
                    SESSION_WRITE,
                ],
                true,
            ),
            Self::FrontOrders => op(
                "front-end",
                "GET",
                "/orders",
                "orders",
                2.0,
                3_200,
                &[SESSION_READ, Step::Http(Op::OrdersSearch)],
                true,
            ),
            Self::CatalogueList => op(
                "catalogue",
                "GET",
                "/catalogue",
                "List",
                2.2,
                2_600,
                &[Step::Store("catalogue-db", "sock", false)],
                false,
            ),
            Self::CatalogueGet => op(
                "catalogue",
                "GET",
                "/catalogue/3395a43e-2d88-40de-b95f-e00e1502085b",
                "Get",
                1.5,
                420,
                &[Step::Store("catalogue-db", "sock", false)],
                false,
            ),
            Self::CartsGet => op(
                "carts",
                "GET",
                "/carts/57a98d98e4b00679b4a830b2/items",
                "getItems",
                6.0,
                900,
                &[Step::Store("carts-db", "cart", false)],
                false,
            ),
            Self::CartsAdd => op(
                "carts",
                "POST",
                "/carts/57a98d98e4b00679b4a830b2/items",
                "addToCart",
                8.0,
                120,
                &[
                    Step::Store("carts-db", "cart", false),
                    Step::Store("carts-db", "item", true),
                ],
                false,
            ),
            Self::CartsDelete => op(
                "carts",
                "DELETE",
                "/carts/57a98d98e4b00679b4a830b2",
                "delete",
                5.0,
                0,
                &[Step::Store("carts-db", "cart", true)],
                false,
            ),
            Self::OrdersCreate => op(
                "orders",
                "POST",
                "/orders",
                "newOrder",
                18.0,
                1_300,
                &[
                    Step::Http(Op::UserCustomer),
                    Step::Http(Op::UserAddress),
                    Step::Http(Op::UserCard),
                    Step::Http(Op::CartsGet),
                    Step::Http(Op::PaymentAuth),
                    Step::Http(Op::ShippingCreate),
                    Step::Store("orders-db", "customerOrder", true),
                ],
                false,
            ),
            Self::OrdersSearch => op(
                "orders",
                "GET",
                "/orders/search/customerId?sort=date&custId=57a98d98e4b00679b4a830b2",
                "search",
                7.0,
                3_000,
                &[Step::Store("orders-db", "customerOrder", false)],
                false,
            ),
            Self::UserLogin => op(
                "user",
                "GET",
                "/login",
                "Login",
                2.0,
                180,
                &[Step::Store("user-db", "customers", false)],
                false,
            ),
            Self::UserCustomer => op(
                "user",
                "GET",
                "/customers/57a98d98e4b00679b4a830b2",
                "GetUsers",
                1.6,
                420,
                &[Step::Store("user-db", "customers", false)],
                false,
            ),
            Self::UserAddress => op(
                "user",
                "GET",
                "/addresses/57a98d98e4b00679b4a830b1",
                "GetAddresses",
                1.4,
                260,
                &[Step::Store("user-db", "addresses", false)],
                false,
            ),
            Self::UserCard => op(
                "user",
                "GET",
                "/cards/57a98d98e4b00679b4a830b3",
                "GetCards",
                1.4,
                210,
                &[Step::Store("user-db", "cards", false)],
                false,
            ),
            Self::PaymentAuth => op(
                "payment",
                "POST",
                "/paymentAuth",
                "Authorise",
                1.2,
                90,
                &[],
                false,
            ),
            Self::ShippingCreate => op(
                "shipping",
                "POST",
                "/shipping",
                "postShipping",
                4.0,
                310,
                &[Step::Publish],
                false,
            ),
        }
    }
}

/// User actions of the Locust purchase flow with their weights.
pub const USER_ACTIONS: [(Op, u32); 8] = [
    (Op::FrontHome, 15),
    (Op::FrontCatalogue, 25),
    (Op::FrontItem, 20),
    (Op::FrontLogin, 10),
    (Op::FrontAddToCart, 12),
    (Op::FrontCart, 10),
    (Op::FrontCheckout, 5),
    (Op::FrontOrders, 3),
];
